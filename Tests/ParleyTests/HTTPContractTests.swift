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

    /// HEAD answers as GET does, headers and all, with no body; an unknown route is a bodiless 404.
    @Test func headAnswersLikeGetWithoutABody() async throws {
        try await TestServer().run { api throws in
            for path in ["/healthz", "/widget.js", "/.well-known/jwks.json"] {
                let get = try await api.request(.get, path, as: .none)
                let head = try await api.request(.head, path, as: .none)
                #expect(get.status == .ok && head.status == .ok, "\(path)")
                #expect(head.body.isEmpty, "\(path)")
                #expect(head.headers[.contentType] == get.headers[.contentType], "\(path)")
                #expect(head.headers[.contentLength] == String(get.body.count), "\(path)")
            }
            let missing = try await api.request(.head, "/no/such/route", as: .none)
            #expect(missing.status == .notFound && missing.body.isEmpty)
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
