import Foundation
import PackagePlugin

/// Compiles the package's `Migrations/*.sql` and the browser assets under `Public/` into the
/// target as Swift source.
///
/// The schema and the widget then travel inside the binary: a `parley` copied alone to another
/// folder (or into a container image) migrates its database and serves its pages without the
/// source tree. Both folders are listed on every build, so a new file is picked up without
/// touching `Package.swift`.
@main
struct EmbedResources: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let tool = try context.tool(named: "ResourceEmbedder").url
        let root = context.package.directoryURL

        let migrations = try files(in: root.appending(path: "Migrations")) { $0.pathExtension == "sql" }
        let migrationsOutput = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")

        let publicRoot = root.appending(path: "Public")
        let assets = try files(in: publicRoot) { ["js", "html", "css", "svg"].contains($0.pathExtension) }
        let assetsOutput = context.pluginWorkDirectoryURL.appending(path: "EmbeddedPublicFiles.swift")

        return [
            .buildCommand(
                displayName: "Embedding \(migrations.count) SQL migrations into \(target.name)",
                executable: tool,
                arguments: ["migrations", migrationsOutput.path] + migrations.map(\.path),
                inputFiles: migrations,
                outputFiles: [migrationsOutput]
            ),
            .buildCommand(
                displayName: "Embedding \(assets.count) browser assets into \(target.name)",
                executable: tool,
                arguments: ["public", publicRoot.path, assetsOutput.path] + assets.map(\.path),
                inputFiles: assets,
                outputFiles: [assetsOutput]
            ),
        ]
    }

    /// Every file below `folder` that `include` accepts, sorted by path.
    private func files(in folder: URL, include: (URL) -> Bool) throws -> [URL] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var found: [URL] = []
        for case let url as URL in walker where include(url) {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { found.append(url) }
        }
        return found.sorted { $0.path < $1.path }
    }
}
