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
        let migrationsRoot = root.appending(path: "Migrations")
        let publicRoot = root.appending(path: "Public")
        let migrationsOutput = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        let assetsOutput = context.pluginWorkDirectoryURL.appending(path: "EmbeddedPublicFiles.swift")
        // The folders themselves are inputs too: adding or removing a file changes their
        // modification time, which re-runs the command, and the tool lists them afresh.
        let migrationInputs = try contents(of: migrationsRoot)
        let publicInputs = try contents(of: publicRoot)
        return [
            .buildCommand(
                displayName: "Embedding SQL migrations into \(target.name)",
                executable: tool,
                arguments: ["migrations", migrationsOutput.path, migrationsRoot.path],
                inputFiles: migrationInputs,
                outputFiles: [migrationsOutput]
            ),
            .buildCommand(
                displayName: "Embedding browser assets into \(target.name)",
                executable: tool,
                arguments: ["public", publicRoot.path, assetsOutput.path],
                inputFiles: publicInputs,
                outputFiles: [assetsOutput]
            ),
        ]
    }

    /// `folder`, every folder below it, and every file in them.
    private func contents(of folder: URL) throws -> [URL] {
        var found = [folder]
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return found }
        for case let url as URL in walker { found.append(url) }
        return found.sorted { $0.path < $1.path }
    }
}
