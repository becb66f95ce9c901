import Crypto
import Foundation
import HTTPTypes
import Logging
import Testing

@testable import Parley

/// DESIGN.md §2: what every response looks like, whatever went wrong.
@Suite struct HTTPContractTests {
    @Test func everyResponseCarriesARequestIDAndSafeHeaders() async throws {
        try await TestServer().run { api throws in
            for response in [
                try await api.request(.get, "/healthz", as: .none),
                try await api.request(.get, "/admin/v1/workspaces", as: .none),
                try await api.request(.get, "/no/such/route", as: .none),
            ] {
                let id = try #require(response.headers[ResponseHeadersMiddleware.requestID])
                #expect(id.hasPrefix("req_") && id.count == 24)
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(response.headers[.contentType] == "application/json")
                if response.status != .ok {
                    #expect((response["error"] as? [String: Any])?["request_id"] as? String == id, "the body names the same request")
                    #expect((response["error"] as? [String: Any])?["message"] is String)
                }
            }
        }
    }

    @Test func unknownRoutesAreJSONNotFound() async throws {
        try await TestServer().run { api throws in
            let response = try await api.request(.get, "/v2/anything", as: .none)
            #expect(response.status == .notFound)
            #expect(response.errorCode == "not_found")
        }
    }

    @Test func malformedJSONIsInvalidJSON() async throws {
        try await TestServer().run { api throws in
            for body in ["{\"name\": ", "not json", "{\"name\": 'a'}", "{name: \"a\"}"] {
                let response = try await api.request(
                    .post, "/admin/v1/workspaces", rawBody: Data(body.utf8), headers: [.contentType: "application/json"])
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.errorCode == "invalid_json", "\(body)")
            }
            let empty = try await api.request(.post, "/admin/v1/workspaces", rawBody: Data(), headers: [.contentType: "application/json"])
            #expect(empty.errorCode == "invalid_json")
            let array = try await api.request(.post, "/admin/v1/workspaces", rawBody: Data("[1]".utf8), headers: [.contentType: "application/json"])
            #expect(array.errorCode == "invalid_request")
        }
    }

    /// A body is refused whole when any part of it is bad, even a field the route never reads.
    @Test func invalidUTF8OrARepeatedKeyAnywhereIsInvalidJSON() async throws {
        try await TestServer().run { api throws in
            let invalidUTF8 = Data(#"{"name": "Acme", "ignored": "\#u{FF}"}"#.utf8).map { $0 == 0xC3 ? 0xFF : $0 }
            let bodies: [Data] = [
                Data(invalidUTF8),
                Data(#"{"name": "Acme", "name": "Other"}"#.utf8),
                Data(#"{"name": "Acme", "ignored": {"x": 1, "x": 2}}"#.utf8),
                Data(#"{"name": "Acme", "ignored": [{"k": 1}, {"k": 2, "k": 3}]}"#.utf8),
            ]
            for body in bodies {
                let response = try await api.request(.post, "/admin/v1/workspaces", rawBody: body, headers: [.contentType: "application/json"])
                #expect(response.status == .badRequest, "\(String(decoding: body, as: UTF8.self))")
                #expect(response.errorCode == "invalid_json", "\(String(decoding: body, as: UTF8.self))")
            }
            let fine = Data(#"{"name": "Acme \"quoted\"", "settings": {"retention_days": 3}, "allowed_origins": [], "x": [{"k": 1}, {"k": 2}]}"#.utf8)
            let created = try await api.request(.post, "/admin/v1/workspaces", rawBody: fine, headers: [.contentType: "application/json"])
            #expect(created.status == .created, "equal keys in sibling objects are fine: \(created.text)")
        }
    }

    @Test func jsonEndpointsRequireTheJSONContentType() async throws {
        try await TestServer().run { api throws in
            let body = Data(#"{"name": "Acme"}"#.utf8)
            for contentType in ["text/plain", "application/x-www-form-urlencoded", "application/jsonp"] {
                let response = try await api.request(.post, "/admin/v1/workspaces", rawBody: body, headers: [.contentType: contentType])
                #expect(response.status == .unsupportedMediaType, "\(contentType)")
                #expect(response.errorCode == "unsupported_media_type")
            }
            let none = try await api.request(.post, "/admin/v1/workspaces", rawBody: body)
            #expect(none.errorCode == "unsupported_media_type")
            let withCharset = try await api.request(
                .post, "/admin/v1/workspaces", rawBody: body, headers: [.contentType: "Application/JSON; charset=utf-8"])
            #expect(withCharset.status == .created)
        }
    }

    @Test(arguments: [
        ("application/json", true), ("Application/JSON; charset=utf-8", true), (" \tapplication/json\t ;x=y", true),
        ("application/json;", true), ("APPLICATION/JSON", true), ("application/jsonp", false), ("application/jso", false),
        ("application/json+x; a=b", false), ("text/json", false), ("application /json", false), ("", false), (";", false),
    ])
    func theJSONMediaTypeIsRecognisedInAnyCaseWithParameters(contentType: String, isJSON: Bool) {
        #expect(JSONBody.isJSON(contentType) == isJSON)
    }

    @Test func bodiesOverOneMebibyteArePayloadTooLarge() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let padding = String(repeating: "x", count: (1 << 20) + 10)
            let response = try await api.request(
                .post, "/api/v1/embed/generate-token", as: .bearer(tenant.key),
                json: ["workspaceId": tenant.workspace, "userContext": ["id": "u"], "metadata": ["pad": padding]])
            #expect(response.status == .contentTooLarge)
            #expect(response.errorCode == "payload_too_large")
            let bigMetadata = try await api.generateToken(
                key: tenant.key, workspace: tenant.workspace, extra: ["metadata": ["pad": String(repeating: "y", count: 5000)]])
            #expect(bigMetadata.errorParam == "metadata", "metadata is capped at 4 KiB so tokens stay small")
        }
    }

    @Test func healthAndReadiness() async throws {
        try await TestServer().run { api throws in
            let health = try await api.request(.get, "/healthz", as: .none)
            let readiness = try await api.request(.get, "/readyz", as: .none)
            #expect(health.string("status") == "ok")
            #expect(readiness.string("status") == "ready")
        }
    }
}

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
