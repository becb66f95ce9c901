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

/// Where the data lives: the flags every subcommand that opens the database shares. They override
/// the `PARLEY_*` environment.
struct DataOptions: ParsableArguments {
    @Option(help: "Folder for the database and master.key (PARLEY_DATA_DIR, default ./data).") var dataDir: String?
    @Option(help: "SQLite durability: full or normal (PARLEY_SQLITE_SYNCHRONOUS, default full).") var sqliteSynchronous: String?

    func config(_ overrides: [String: String] = [:]) throws -> ParleyConfig {
        var environment = ProcessInfo.processInfo.environment.merging(overrides) { $1 }
        if let dataDir { environment["PARLEY_DATA_DIR"] = dataDir }
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

/// The flags of the subcommands that serve HTTP, besides where the data lives.
struct ServerOptions: ParsableArguments {
    @Option(help: "Address to bind (PARLEY_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (PARLEY_PORT, default 8080).") var port: Int?
    @Option(help: "URL browsers use to reach Parley (PARLEY_PUBLIC_URL).") var publicURL: String?
    @Flag(help: "Allow provider URLs on private networks (PARLEY_ALLOW_PRIVATE_UPSTREAMS).") var allowPrivateUpstreams = false
    @OptionGroup var data: DataOptions

    func config() throws -> ParleyConfig {
        var overrides: [String: String] = [:]
        if let host { overrides["PARLEY_HOST"] = host }
        if let port { overrides["PARLEY_PORT"] = String(port) }
        if let publicURL { overrides["PARLEY_PUBLIC_URL"] = publicURL }
        if allowPrivateUpstreams { overrides["PARLEY_ALLOW_PRIVATE_UPSTREAMS"] = "true" }
        return try data.config(overrides)
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
        if options.data.dataDir == nil, ProcessInfo.processInfo.environment["PARLEY_DATA_DIR"] == nil {
            options.data.dataDir = "data/demo"
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
    @OptionGroup var options: DataOptions

    func run() async throws {
        let applied = try OperatorTasks.migrate(try options.config())
        print("schema is at \(applied.last ?? "nothing"); applied: \(applied.joined(separator: ", "))")
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the database to a new file, while the server runs.",
        discussion: "master.key is not copied: back it up separately; the copy's provider keys need it.")
    @OptionGroup var options: DataOptions
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
        @OptionGroup var options: DataOptions
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
        } catch let failure as AdminClient.Unreachable {
            FileHandle.standardError.write(Data("\(failure)\n".utf8))
            throw ExitCode(1)
        }
    }
}

extension Admin {
    struct Workspaces: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List or create workspaces.", subcommands: [List.self, Create.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the workspaces the key can see.")
            @OptionGroup var remote: RemoteOptions
            func run() async throws { try await remote.run("GET", "/admin/v1/workspaces?limit=100") }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a workspace.")
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
            commandName: "api-keys", abstract: "List, create or revoke a workspace's API keys.",
            subcommands: [List.self, Create.self, Revoke.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List a workspace's API keys (prefixes only; secrets are never shown again).")
            @OptionGroup var remote: RemoteOptions
            @Option(help: "The workspace id.") var workspace: String
            func run() async throws { try await remote.run("GET", "/admin/v1/workspaces/\(workspace)/api-keys") }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a workspace API key and print it once.")
            @OptionGroup var remote: RemoteOptions
            @Option(help: "The workspace id.") var workspace: String
            @Option(help: "A name to recognize the key by.") var name: String
            @Option(help: "tokens or admin.") var scope = "tokens"

            func run() async throws {
                try await remote.run("POST", "/admin/v1/workspaces/\(workspace)/api-keys", body: ["name": name, "scope": scope])
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke an API key; it fails at once.")
            @OptionGroup var remote: RemoteOptions
            @Option(help: "The workspace id.") var workspace: String
            @Argument(help: "The key's id (key_…).") var id: String
            func run() async throws { try await remote.run("DELETE", "/admin/v1/workspaces/\(workspace)/api-keys/\(id)") }
        }
    }

    struct Bots: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, show, create or update a workspace's bots.", subcommands: [List.self, Show.self, Create.self, Update.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List a workspace's bots.")
            @OptionGroup var remote: RemoteOptions
            @Option(help: "The workspace id.") var workspace: String
            func run() async throws { try await remote.run("GET", "/admin/v1/workspaces/\(workspace)/bots") }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show one bot.")
            @OptionGroup var remote: RemoteOptions
            @Option(help: "The workspace id.") var workspace: String
            @Argument(help: "The bot's id (bot_…).") var id: String
            func run() async throws { try await remote.run("GET", "/admin/v1/workspaces/\(workspace)/bots/\(id)") }
        }

        /// What `create` and `update` both set.
        struct Settings: ParsableArguments {
            @Option(help: "The model, e.g. gpt-4o-mini.") var model: String?
            @Option(help: "The API root; the provider's default when omitted.") var baseURL: String?
            @Option(help: "Name of an environment variable holding the provider key (never the key itself).") var apiKeyEnv: String?
            @Option(help: "The system prompt.") var systemPrompt: String?
            @Option(help: "A greeting shown before the first message.") var greeting: String?

            /// The provider key named by `--api-key-env`, read from the environment.
            func providerKey() throws -> String? {
                guard let variable = apiKeyEnv else { return nil }
                guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                    throw ValidationError("the environment variable \(variable) is not set")
                }
                return value
            }

            func apply(to body: inout [String: Any], provider: inout [String: Any]) throws {
                if let model { provider["model"] = model }
                if let baseURL { provider["base_url"] = baseURL }
                if let key = try providerKey() { provider["api_key"] = key }
                if let systemPrompt { body["system_prompt"] = systemPrompt }
                if let greeting { body["greeting"] = greeting }
            }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a bot.",
                discussion: "A bot needs its provider's key to answer: pass --api-key-env, or --no-key for a provider that needs none.")
            @OptionGroup var remote: RemoteOptions
            @Option(help: "The workspace id.") var workspace: String
            @Option(help: "Display name.") var name: String
            @Option(help: "openai or anthropic.") var kind = "openai"
            @OptionGroup var settings: Settings
            @Flag(help: "Create the bot without a provider key (a local model that needs none).") var noKey = false

            func validate() throws {
                guard settings.model != nil else { throw ValidationError("Missing expected argument '--model <model>'") }
                if settings.apiKeyEnv == nil, !noKey {
                    throw ValidationError("a bot without a provider key cannot answer: pass --api-key-env VARIABLE, or --no-key for a provider that needs none")
                }
                if settings.apiKeyEnv != nil, noKey { throw ValidationError("--api-key-env and --no-key contradict each other") }
            }

            func run() async throws {
                var provider: [String: Any] = ["kind": kind]
                var body: [String: Any] = ["name": name]
                try settings.apply(to: &body, provider: &provider)
                body["provider"] = provider
                try await remote.run("POST", "/admin/v1/workspaces/\(workspace)/bots", body: body)
            }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Change a bot; what is not given stays as it is.")
            @OptionGroup var remote: RemoteOptions
            @Option(help: "The workspace id.") var workspace: String
            @Argument(help: "The bot's id (bot_…).") var id: String
            @Option(help: "Display name.") var name: String?
            @OptionGroup var settings: Settings

            func run() async throws {
                var provider: [String: Any] = [:]
                var body: [String: Any] = [:]
                if let name { body["name"] = name }
                try settings.apply(to: &body, provider: &provider)
                if !provider.isEmpty { body["provider"] = provider }
                guard !body.isEmpty else { throw ValidationError("nothing to change: give at least one option") }
                try await remote.run("PATCH", "/admin/v1/workspaces/\(workspace)/bots/\(id)", body: body)
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
        @OptionGroup var options: DataOptions

        func run() async throws {
            let kid = try await OperatorTasks.rotateSigningKey(try options.config())
            print("new signing key \(kid); running servers switch to it within 30 s")
        }
    }
}
