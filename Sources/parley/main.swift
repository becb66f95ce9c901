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
        abstract: "Operator credentials, and the admin API of a running server.",
        subcommands: [CreateKey.self, Workspaces.self, APIKeys.self, Bots.self])

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

/// How the admin subcommands reach a running server.
struct RemoteOptions: ParsableArguments {
    @Option(help: "Parley's URL (PARLEY_URL, default http://127.0.0.1:8080).") var url: String?
    @Option(help: "An admin key (PARLEY_ADMIN_KEY); prefer the environment to keep it out of shell history.") var key: String?

    func client() throws -> AdminClient {
        let environment = ProcessInfo.processInfo.environment
        guard let key = key ?? environment["PARLEY_ADMIN_KEY"], !key.isEmpty else {
            throw ValidationError("set PARLEY_ADMIN_KEY (or --key) to an admin key")
        }
        return AdminClient(baseURL: url ?? environment["PARLEY_URL"] ?? "http://127.0.0.1:8080", adminKey: key)
    }

    func run(_ method: String, _ path: String, body: [String: Any]? = nil) async throws {
        do {
            print(try await client().call(method, path, body: body))
        } catch let failure as AdminClient.Failure {
            FileHandle.standardError.write(Data("\(failure)\n".utf8))
            throw ExitCode(1)
        }
    }
}

extension Admin {
    struct Workspaces: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List or create workspaces.", subcommands: [List.self, Create.self])

        struct List: AsyncParsableCommand {
            @OptionGroup var remote: RemoteOptions
            func run() async throws { try await remote.run("GET", "/admin/v1/workspaces?limit=100") }
        }

        struct Create: AsyncParsableCommand {
            @OptionGroup var remote: RemoteOptions
            @Option(help: "Display name.") var name: String
            @Option(help: "Your own id ([A-Za-z0-9_-]{1,64}); ws_… when omitted.") var id: String?
            @Option(help: "An allowed browser origin (repeatable).") var origin: [String] = []

            func run() async throws {
                var body: [String: Any] = ["name": name, "allowed_origins": origin]
                if let id { body["id"] = id }
                try await remote.run("POST", "/admin/v1/workspaces", body: body)
            }
        }
    }

    struct APIKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "api-keys", abstract: "Create a workspace API key (shown once).", subcommands: [Create.self])

        struct Create: AsyncParsableCommand {
            @OptionGroup var remote: RemoteOptions
            @Option(help: "The workspace id.") var workspace: String
            @Option(help: "A name to recognize the key by.") var name: String
            @Option(help: "tokens or admin.") var scope = "tokens"

            func run() async throws {
                try await remote.run("POST", "/admin/v1/workspaces/\(workspace)/api-keys", body: ["name": name, "scope": scope])
            }
        }
    }

    struct Bots: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a bot.", subcommands: [Create.self])

        struct Create: AsyncParsableCommand {
            @OptionGroup var remote: RemoteOptions
            @Option(help: "The workspace id.") var workspace: String
            @Option(help: "Display name.") var name: String
            @Option(help: "openai or anthropic.") var kind = "openai"
            @Option(help: "The model, e.g. gpt-4o-mini.") var model: String
            @Option(help: "The API root; the provider's default when omitted.") var baseURL: String?
            @Option(help: "Name of an environment variable holding the provider key (never the key itself).") var apiKeyEnv: String?
            @Option(help: "A greeting shown before the first message.") var greeting: String?

            func run() async throws {
                var provider: [String: Any] = ["kind": kind, "model": model]
                if let baseURL { provider["base_url"] = baseURL }
                if let variable = apiKeyEnv {
                    guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                        throw ValidationError("the environment variable \(variable) is not set")
                    }
                    provider["api_key"] = value
                }
                var body: [String: Any] = ["name": name, "provider": provider]
                if let greeting { body["greeting"] = greeting }
                try await remote.run("POST", "/admin/v1/workspaces/\(workspace)/bots", body: body)
            }
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
