import Crypto
import Foundation
import HTTPTypes
import Logging
import Testing

@testable import Parley

/// Secrets are hashed or sealed at rest and never logged.
@Suite struct SecretsTests {
    @Test func noKeyOrTokenAppearsInTheDataDirectoryOrTheLogs() async throws {
        let server = TestServer()
        let providerKey = "sk-provider-" + RandomToken.base62(40)
        let (apiKey, token) = try await server.run { api -> (String, String) in
            let workspace = try await api.createWorkspace()
            _ = try await api.createBot(workspace: workspace, providerKey: providerKey)
            let key = try await api.createAPIKey(workspace: workspace, scope: "admin")
            let token = try await api.mint(key: key, workspace: workspace)
            _ = try await api.session(token)
            // Credentials in a query string are redacted from the access log too.
            _ = try await api.request(.get, "/embedded-chat?token=\(token)&theme=dark", as: .none)
            _ = try await api.request(.get, "/admin/v1/workspaces", as: .bearer(key))
            // Read while the server runs, so the WAL is included.
            let stored = try server.dataDirectoryBytes()
            for secret in [key, providerKey, server.adminKey] {
                #expect(stored.range(of: Data(secret.utf8)) == nil, "\(secret.prefix(10))… must not be stored in the clear")
            }
            let mode = try FileManager.default.attributesOfItem(atPath: server.config.masterKeyURL.path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            return (key, token)
        }
        let logs = server.logs.text
        #expect(!logs.isEmpty)
        for secret in [apiKey, providerKey, server.adminKey, token] {
            #expect(!logs.contains(secret), "\(secret.prefix(10))… must not be logged")
        }
        #expect(logs.contains("token=[REDACTED]&theme=dark"))
    }

    @Test func aMasterKeyReadableByOthersStopsTheServer() async throws {
        let server = TestServer()
        try FileManager.default.createDirectory(at: server.dataDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        let keyFile = server.dataDirectory.appendingPathComponent("master.key")
        try Data(repeating: 7, count: 32).write(to: keyFile)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile.path)
        await #expect(throws: SecretBoxError.self) {
            _ = try await buildApplication(server.config, logger: server.logs.logger())
        }
    }

    @Test func sealedValuesOpenOnlyUnderTheirOwnLabel() throws {
        let box = SecretBox(key: .init(size: .bits256))
        let sealed = try box.seal(Data("secret".utf8), label: "bot:bot_a:api_key")
        #expect(try box.unseal(sealed, label: "bot:bot_a:api_key") == Data("secret".utf8))
        #expect(throws: (any Error).self) { try box.unseal(sealed, label: "bot:bot_b:api_key") }
    }

    @Test func redactionScrubsKeysTokensAndQueryCredentials() {
        let key = "sk_live_" + RandomToken.base62(32)
        #expect(Redaction.scrub("key \(key) used") == "key [REDACTED] used")
        #expect(Redaction.scrub("jwt eyJhbGciOi.eyJzdWIi.c2ln end") == "jwt [REDACTED] end")
        #expect(Redaction.redactQuery("/view/w/c?auth_token=abc&view_as=u") == "/view/w/c?auth_token=[REDACTED]&view_as=u")
        #expect(Redaction.redactQuery("/healthz") == "/healthz")
    }

    /// The logger's metadata reaches the wrapped handler with each event, merged under the
    /// event's own, and scrubbed like it; so does an error's description.
    @Test func theRedactingHandlerScrubsTheLoggersMetadataAndErrorsToo() {
        struct LeakyError: Error, CustomStringConvertible {
            var description: String { "refused eyJhbGciOi.eyJzdWIi.c2ln" }
        }
        let capture = LogCapture()
        var logger = capture.logger()
        let key = "sk_admin_" + RandomToken.base62(32)
        logger[metadataKey: "parley.request_id"] = "req_1"
        logger[metadataKey: "parley.key"] = .string(key)
        logger[metadataKey: "parley.user_id"] = "u-1"
        logger.info("first")
        logger.warning("second", error: LeakyError(), metadata: ["parley.user_id": "u-2", "parley.detail": "sent \(key)"])
        let logged = capture.events
        #expect(logged.count == 2)
        #expect(logged.first?.metadata == ["parley.request_id": "req_1", "parley.key": "[REDACTED]", "parley.user_id": "u-1"])
        #expect(
            logged.last?.metadata == [
                "parley.request_id": "req_1", "parley.key": "[REDACTED]", "parley.user_id": "u-2", "parley.detail": "sent [REDACTED]",
                "error.message": "refused [REDACTED]", "error.type": .string(String(reflecting: LeakyError.self)),
            ])
        #expect(logged.last?.error == nil, "the error goes on as scrubbed metadata")
    }
}
