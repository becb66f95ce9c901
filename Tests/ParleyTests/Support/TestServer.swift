import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

@testable import Parley

/// A clock the tests move by hand, so expiry and rate limits need no sleeping.
final class ManualClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date()) {
        current = Mutex(start)
    }

    func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    var wallClock: WallClock { WallClock { [self] in current.withLock { $0 } } }
}

/// Every event the server logged, through `RedactingLogHandler` as in production: as text, for
/// asserting that secrets never reach a log, and as events, for asserting on their metadata.
final class LogCapture: Sendable {
    private let captured = Mutex<[LogEvent]>([])

    /// The events as the wrapped handler received them, the logger's metadata merged in.
    var events: [LogEvent] { captured.withLock { $0 } }

    var text: String {
        events.map { event in
            let rendered = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return "\(event.level) \(event.message) \(rendered)"
        }.joined(separator: "\n")
    }

    func logger() -> Logger {
        var logger = Logger(label: "parley.test") { _ in RedactingLogHandler(wrapping: CapturingHandler(capture: self)) }
        logger.logLevel = .debug
        return logger
    }

    private struct CapturingHandler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .debug
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var event = event
            if !metadata.isEmpty { event.metadata = metadata.merging(event.metadata ?? [:]) { $1 } }
            capture.captured.withLock { $0.append(event) }
        }
    }
}

/// A real Parley on a real port, over a fresh data directory, with an operator key.
struct TestServer {
    let dataDirectory: URL
    let adminKey: String
    let clock: ManualClock
    let logs: LogCapture
    var allowedOrigin = "https://app.example.com"
    /// Changes to the configuration a test needs (shorter timeouts, intervals).
    let adjust: @Sendable (inout ParleyConfig) -> Void

    init(
        dataDirectory: URL = FileManager.default.temporaryDirectory.appendingPathComponent("parley-test-\(UUID().uuidString)"),
        adjust: @escaping @Sendable (inout ParleyConfig) -> Void = { _ in }
    ) {
        self.dataDirectory = dataDirectory
        self.adjust = adjust
        adminKey = "sk_admin_" + RandomToken.base62(32)
        clock = ManualClock()
        logs = LogCapture()
    }

    var config: ParleyConfig {
        var config = ParleyConfig(
            host: "127.0.0.1", port: 0, dataDirectory: dataDirectory, publicURL: URL(string: "http://parley.test")!,
            adminKey: adminKey, allowPrivateUpstreams: true, durability: .normal)
        adjust(&config)
        return config
    }

    /// Runs `body` against a live server, then removes the data directory.
    func run<Value>(_ body: @Sendable (APIClient) async throws -> Value) async throws -> Value {
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let app = try await buildApplication(config, clock: clock.wallClock, logger: logs.logger())
        return try await app.test(.live) { client in
            try await body(APIClient(client: client, adminKey: adminKey))
        }
    }

    /// Every byte of every file in the data directory (database, WAL, master.key).
    func dataDirectoryBytes() throws -> Data {
        var all = Data()
        let files = try FileManager.default.contentsOfDirectory(at: dataDirectory, includingPropertiesForKeys: nil)
        for file in files { all.append(try Data(contentsOf: file)) }
        return all
    }
}

/// A response with its JSON decoded loosely, so tests read like the contract's examples.
struct APIResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }

    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    var errorParam: String? { (json["error"] as? [String: Any])?["param"] as? String }
    var text: String { String(decoding: body, as: UTF8.self) }

    subscript(key: String) -> Any? { json[key] }
    func string(_ key: String) -> String? { json[key] as? String }
}

/// The HTTP calls the tests make, with the credentials they name.
struct APIClient: Sendable {
    let client: any TestClientProtocol
    let adminKey: String

    enum Credential {
        case admin
        case bearer(String)
        case none
    }

    func request(
        _ method: HTTPRequest.Method, _ path: String, as credential: Credential = .admin,
        json: [String: Any]? = nil, rawBody: Data? = nil, headers extra: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = extra
        switch credential {
        case .admin: headers[.authorization] = "Bearer \(adminKey)"
        case .bearer(let value): headers[.authorization] = "Bearer \(value)"
        case .none: break
        }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
            if headers[.contentType] == nil { headers[.contentType] = "application/json" }
        } else if let rawBody {
            body = ByteBuffer(bytes: rawBody)
        }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
        return APIResponse(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
    }

    // MARK: The walk-through, one helper per step

    /// Creates a workspace and returns its id.
    @discardableResult
    func createWorkspace(id: String? = nil, origins: [String] = ["https://app.example.com"], settings: [String: Any] = [:]) async throws -> String {
        var body: [String: Any] = ["name": "Acme", "allowed_origins": origins, "settings": settings]
        if let id { body["id"] = id }
        let response = try await request(.post, "/admin/v1/workspaces", json: body)
        try #require(response.status == .created, "create workspace: \(response.text)")
        return try #require(response.string("id"))
    }

    /// Creates an API key and returns the secret.
    func createAPIKey(workspace: String, scope: String = "tokens") async throws -> String {
        let response = try await request(.post, "/admin/v1/workspaces/\(workspace)/api-keys", json: ["name": "backend", "scope": scope])
        try #require(response.status == .created, "create key: \(response.text)")
        return try #require(response.string("key"))
    }

    /// Creates a bot and returns its id.
    func createBot(workspace: String, providerKey: String = "sk-provider-secret-0123456789") async throws -> String {
        let response = try await request(
            .post, "/admin/v1/workspaces/\(workspace)/bots",
            json: [
                "name": "Helper", "greeting": "Hello!",
                "provider": ["kind": "openai", "api_key": providerKey, "model": "gpt-4o-mini"],
            ])
        try #require(response.status == .created, "create bot: \(response.text)")
        return try #require(response.string("id"))
    }

    func generateToken(key: String, workspace: String, user: String = "u-42", extra: [String: Any] = [:]) async throws -> APIResponse {
        var body: [String: Any] = ["workspaceId": workspace, "userContext": ["id": user, "email": "jane@example.com", "name": "Jane"]]
        body.merge(extra) { $1 }
        return try await request(.post, "/api/v1/embed/generate-token", as: .bearer(key), json: body)
    }

    /// Mints a token that must succeed, and returns it.
    func mint(key: String, workspace: String, user: String = "u-42", extra: [String: Any] = [:]) async throws -> String {
        let response = try await generateToken(key: key, workspace: workspace, user: user, extra: extra)
        try #require(response.status == .ok, "mint: \(response.text)")
        return try #require(response.string("embedToken"))
    }

    func session(_ token: String, origin: String? = nil) async throws -> APIResponse {
        var headers: HTTPFields = [:]
        if let origin { headers[.origin] = origin }
        return try await request(.get, "/v1/session", as: .bearer(token), headers: headers)
    }
}

/// A workspace with a bot and a `tokens` key, ready to mint.
struct Tenant: Sendable {
    let workspace: String
    let bot: String
    let key: String

    static func make(_ api: APIClient, id: String? = nil, settings: [String: Any] = [:]) async throws -> Tenant {
        let workspace = try await api.createWorkspace(id: id, settings: settings)
        let bot = try await api.createBot(workspace: workspace)
        let key = try await api.createAPIKey(workspace: workspace)
        return Tenant(workspace: workspace, bot: bot, key: key)
    }
}
