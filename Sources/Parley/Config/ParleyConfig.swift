import CurlStream
import Foundation
import Logging

/// Every setting Parley reads, with its `PARLEY_*` environment name and default in one place.
///
/// The CLI overlays its flags on top of `init(environment:)`; tests build one directly. Nothing
/// else in the library reads the environment.
public struct ParleyConfig: Sendable {
    /// How hard SQLite works to survive a power cut. `full` fsyncs the WAL on every commit;
    /// `normal` can lose the last commits on power loss (never on a process crash) and is faster.
    public enum Durability: String, Sendable, CaseIterable {
        case full
        case normal
    }

    public var host: String
    public var port: Int
    /// Holds `parley.sqlite` and `master.key` (mode 0600).
    public var dataDirectory: URL
    /// The URL browsers use to reach Parley; its origin is always allowed to call the chat API,
    /// and it is the `iss` of every embed token.
    public var publicURL: URL
    /// Optional operator key from the environment; compared by hash, never stored.
    public var adminKey: String?
    public var allowPrivateUpstreams: Bool
    public var durability: Durability
    /// How long a writer waits on a locked database before answering 503 `unavailable`.
    public var busyTimeout: Duration
    public var logLevel: Logger.Level
    /// When set, every bot talks to this provider instead of its own (`parley demo` with
    /// `OPENAI_API_KEY`).
    public var providerOverride: ProviderOverride?
    /// Deadlines of every provider request: connect 10 s, first byte 60 s, idle 60 s, total 10 min.
    public var upstreamTimeouts = CurlTimeouts()
    /// The longest silence on a reply stream before a `: ping` comment.
    public var streamPingInterval: Duration = .seconds(15)
    /// How often an open reply stream re-checks its token (a revoked token's streams end within it).
    public var streamCheckInterval: Duration = .seconds(5)
    /// How long running replies may go on after SIGTERM before they are stopped as `interrupted`.
    public var shutdownDrainDeadline: Duration = .seconds(30)
    /// `parley demo`: seed a demo workspace and serve the offline model, `/demo` and `/demo/token`.
    public var demo = false
    /// How often a streaming reply's text is saved.
    public var replyFlushInterval: Duration = .seconds(1)
    /// How long a finished reply's events stay in memory; later resumes rebuild them from storage.
    public var replyEventRetention: Duration = .seconds(120)
    /// Deadlines and the cap that keep slow or idle clients from holding connections (`ConnectionLimits`).
    public var connectionLimits = ConnectionLimits()

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        dataDirectory: URL = URL(fileURLWithPath: "data"),
        publicURL: URL? = nil,
        adminKey: String? = nil,
        allowPrivateUpstreams: Bool = false,
        durability: Durability = .full,
        busyTimeout: Duration = .seconds(5),
        logLevel: Logger.Level = .info
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.publicURL = publicURL ?? URL(string: "http://\(host):\(port)")!
        self.adminKey = adminKey
        self.allowPrivateUpstreams = allowPrivateUpstreams
        self.durability = durability
        self.busyTimeout = busyTimeout
        self.logLevel = logLevel
    }

    /// Reads the documented `PARLEY_*` variables; anything unset keeps its default.
    ///
    /// - Throws: `ConfigError` naming the variable whose value cannot be used.
    public init(environment: [String: String]) throws {
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        let host = value("PARLEY_HOST") ?? "127.0.0.1"
        var port = 8080
        if let raw = value("PARLEY_PORT") {
            guard let parsed = Int(raw), (0...65535).contains(parsed) else {
                throw ConfigError(variable: "PARLEY_PORT", reason: "must be a port number, got \(raw)")
            }
            port = parsed
        }
        var publicURL: URL?
        if let raw = value("PARLEY_PUBLIC_URL") {
            guard let url = URL(string: raw), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ConfigError(variable: "PARLEY_PUBLIC_URL", reason: "must be an absolute http(s) URL")
            }
            publicURL = url
        }
        var durability = Durability.full
        if let raw = value("PARLEY_SQLITE_SYNCHRONOUS") {
            guard let parsed = Durability(rawValue: raw.lowercased()) else {
                throw ConfigError(variable: "PARLEY_SQLITE_SYNCHRONOUS", reason: "must be full or normal")
            }
            durability = parsed
        }
        var logLevel = Logger.Level.info
        if let raw = value("PARLEY_LOG_LEVEL") {
            guard let parsed = Logger.Level(rawValue: raw.lowercased()) else {
                throw ConfigError(variable: "PARLEY_LOG_LEVEL", reason: "must be trace, debug, info, notice, warning or error")
            }
            logLevel = parsed
        }
        var grace: Duration = .seconds(30)
        if let raw = value("PARLEY_SHUTDOWN_GRACE_SECONDS") {
            guard let seconds = Int(raw), (0...3600).contains(seconds) else {
                throw ConfigError(variable: "PARLEY_SHUTDOWN_GRACE_SECONDS", reason: "must be a number of seconds from 0 to 3600")
            }
            grace = .seconds(seconds)
        }
        var limits = ConnectionLimits()
        if let raw = value("PARLEY_IDLE_TIMEOUT_SECONDS") {
            guard let seconds = Int(raw), (1...3600).contains(seconds) else {
                throw ConfigError(variable: "PARLEY_IDLE_TIMEOUT_SECONDS", reason: "must be a number of seconds from 1 to 3600")
            }
            limits.idleTimeout = .seconds(seconds)
        }
        if let raw = value("PARLEY_MAX_CONNECTIONS") {
            guard let count = Int(raw), count >= 1 else {
                throw ConfigError(variable: "PARLEY_MAX_CONNECTIONS", reason: "must be a positive number of connections")
            }
            limits.maxConnections = count
        }
        self.init(
            host: host,
            port: port,
            dataDirectory: URL(fileURLWithPath: value("PARLEY_DATA_DIR") ?? "data"),
            publicURL: publicURL,
            adminKey: value("PARLEY_ADMIN_KEY"),
            allowPrivateUpstreams: ["1", "true", "yes", "on"].contains(value("PARLEY_ALLOW_PRIVATE_UPSTREAMS")?.lowercased() ?? ""),
            durability: durability,
            logLevel: logLevel
        )
        shutdownDrainDeadline = grace
        connectionLimits = limits
    }

    var databaseURL: URL { dataDirectory.appendingPathComponent("parley.sqlite") }
    var masterKeyURL: URL { dataDirectory.appendingPathComponent("master.key") }

    /// `scheme://host[:port]` of `publicURL`, as browsers send it in `Origin`.
    var publicOrigin: String { Origin.normalized(publicURL) ?? publicURL.absoluteString }
}

/// A provider that replaces every bot's own, for demos.
public struct ProviderOverride: Sendable {
    public var kind: ProviderKind
    public var baseURL: String
    public var apiKey: String?
    public var model: String

    public init(kind: ProviderKind, baseURL: String, apiKey: String?, model: String) {
        self.kind = kind
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.model = model
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public var variable: String
    public var reason: String
    public var description: String { "\(variable) \(reason)" }
}

/// Web origins, compared the way browsers serialize them (RFC 6454): lowercase scheme and host,
/// default ports dropped, no path.
enum Origin {
    static func normalized(_ url: URL) -> String? {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host?.lowercased(), !host.isEmpty
        else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        if let port = url.port, port != defaultPort {
            return "\(scheme)://\(host):\(port)"
        }
        return "\(scheme)://\(host)"
    }

    /// Accepts only a bare origin (`https://app.example.com[:port]`): no path, query, user info
    /// or fragment, so an allow-list entry means exactly one origin.
    static func parseAllowListEntry(_ text: String) -> String? {
        guard let url = URL(string: text), url.user == nil, url.query == nil, url.fragment == nil,
            url.path.isEmpty || url.path == "/"
        else { return nil }
        return normalized(url)
    }
}
