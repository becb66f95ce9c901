import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Parley

/// The `parley` command: flags and environment in, library calls out.
@main
struct ParleyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "Self-hosted embedded AI chat backend.",
        subcommands: [Serve.self, Demo.self, Migrate.self, Backup.self, Admin.self, Keys.self],
        defaultSubcommand: Serve.self
    )
}

/// Flags that override the `PARLEY_*` environment, shared by every subcommand.
struct ServerOptions: ParsableArguments {
    @Option(help: "Address to bind (PARLEY_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (PARLEY_PORT, default 8080).") var port: Int?
    @Option(help: "Folder for the database and master.key (PARLEY_DATA_DIR, default ./data).") var dataDir: String?
    @Option(help: "URL browsers use to reach Parley (PARLEY_PUBLIC_URL).") var publicURL: String?
    @Flag(help: "Allow provider URLs on private networks (PARLEY_ALLOW_PRIVATE_UPSTREAMS).") var allowPrivateUpstreams = false
    @Option(help: "SQLite durability: full or normal (PARLEY_SQLITE_SYNCHRONOUS, default full).") var sqliteSynchronous: String?

    func config() throws -> ParleyConfig {
        var environment = ProcessInfo.processInfo.environment
        if let host { environment["PARLEY_HOST"] = host }
        if let port { environment["PARLEY_PORT"] = String(port) }
        if let dataDir { environment["PARLEY_DATA_DIR"] = dataDir }
        if let publicURL { environment["PARLEY_PUBLIC_URL"] = publicURL }
        if allowPrivateUpstreams { environment["PARLEY_ALLOW_PRIVATE_UPSTREAMS"] = "true" }
        if let sqliteSynchronous { environment["PARLEY_SQLITE_SYNCHRONOUS"] = sqliteSynchronous }
        let config: ParleyConfig
        do {
            config = try ParleyConfig(environment: environment)
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        // Logs go to standard error, redacted, so standard output carries only results (a
        // created key, a kid) that scripts can capture.
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = config.logLevel
            return RedactingLogHandler(wrapping: handler)
        }
        return config
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server until SIGTERM or SIGINT.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let config = try options.config()
        let app = try await buildApplication(config)
        try await app.runService()
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the offline demo: a demo workspace, a built-in model, and a chat page at /demo.",
        discussion: "With OPENAI_API_KEY set (and optionally OPENAI_BASE_URL, OPENAI_MODEL) the demo talks to that provider instead.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        var options = self.options
        if options.dataDir == nil, ProcessInfo.processInfo.environment["PARLEY_DATA_DIR"] == nil {
            options.dataDir = "data/demo"
        }
        var config = try options.config()
        config.demo = true
        config.allowPrivateUpstreams = true
        let environment = ProcessInfo.processInfo.environment
        if let key = environment["OPENAI_API_KEY"], !key.isEmpty {
            config.providerOverride = ProviderOverride(
                kind: .openai, baseURL: environment["OPENAI_BASE_URL"] ?? "https://api.openai.com/v1", apiKey: key,
                model: environment["OPENAI_MODEL"] ?? "gpt-4o-mini")
        }
        let app = try await buildApplication(config)
        let base = config.publicURL.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let banner = """

            Parley demo is running. Open \(base)/demo in a browser.
            Model: \(config.providerOverride.map { "\($0.model) at \($0.baseURL)" } ?? "the offline demo model (set OPENAI_API_KEY for a real one)")
            Data:  \(config.dataDirectory.path)   Stop with Ctrl-C.


            """
        // Written unbuffered, so it shows at once even when output goes to a pipe or a file.
        FileHandle.standardOutput.write(Data(banner.utf8))
        try await app.runService()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let applied = try OperatorTasks.migrate(try options.config())
        print("schema is at \(applied.last ?? "nothing"); applied: \(applied.joined(separator: ", "))")
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the database to a new file, while the server runs.",
        discussion: "master.key is not copied: back it up separately; the copy's provider keys need it.")
    @OptionGroup var options: ServerOptions
    @Option(help: "The new file to write.") var to: String

    func run() async throws {
        let destination = URL(fileURLWithPath: to)
        try OperatorTasks.backup(try options.config(), to: destination)
        print("backup written to \(destination.path)")
    }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Operator credentials.", subcommands: [CreateKey.self])

    struct CreateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-key", abstract: "Create an operator admin key (sk_admin_…) and print it once.")
        @OptionGroup var options: ServerOptions
        @Option(help: "A name to recognize the key by.") var name = "operator"

        func run() async throws {
            let created = try await OperatorTasks.createAdminKey(try options.config(), name: name)
            print(created.key)
            FileHandle.standardError.write(Data("created admin key \(created.id); it is shown only this once\n".utf8))
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed-token signing keys.", subcommands: [Rotate.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start signing with a new Ed25519 key; the old one stays published until its tokens expire.")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let kid = try await OperatorTasks.rotateSigningKey(try options.config())
            print("new signing key \(kid); running servers switch to it within 30 s")
        }
    }
}
