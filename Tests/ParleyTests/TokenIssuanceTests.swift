import Foundation
import HTTPTypes
import JWTKit
import Testing

@testable import Parley

/// DESIGN.md §3: a customer's backend mints, and revokes, embed tokens for its users.
@Suite struct TokenIssuanceTests {
    @Test func generateTokenReturnsATokenThatOpensASession() async throws {
        let server = TestServer()
        try await server.run { api throws in
            let tenant = try await Tenant.make(api, id: "W123")
            let minted = try await api.generateToken(key: tenant.key, workspace: "W123", extra: ["metadata": ["plan": "pro"]])
            #expect(minted.status == .ok)
            #expect(minted.string("botId") == tenant.bot)
            let token = try #require(minted.string("embedToken"))
            #expect(token.split(separator: ".").count == 3)
            let expiresAt = try #require(minted.string("expiresAt").flatMap { try? Date($0, strategy: .iso8601) })
            // The server's clock stands still in tests: the expiry is exactly an hour after it.
            #expect(Int(expiresAt.timeIntervalSince1970) == Int(server.clock.wallClock.now.timeIntervalSince1970) + 3600)

            let session = try await api.session(token)
            #expect(session.status == .ok, "\(session.text)")
            let user = try #require(session["user"] as? [String: Any])
            #expect(user["id"] as? String == "u-42")
            #expect(user["email"] as? String == "jane@example.com")
            #expect(user["name"] as? String == "Jane")
            #expect((session["workspace"] as? [String: Any])?["id"] as? String == "W123")
            let bot = try #require(session["bot"] as? [String: Any])
            #expect(bot["id"] as? String == tenant.bot)
            #expect(bot["greeting"] as? String == "Hello!")
            #expect(session.string("expires_at") == minted.string("expiresAt"))
        }
    }

    @Test func tokenCarriesTheContractClaimsAndVerifiesWithOnlyTheJWKS() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace, extra: ["metadata": ["plan": "pro"]])

            let jwks = try await api.request(.get, "/.well-known/jwks.json", as: .none)
            #expect(jwks.status == .ok)
            #expect(jwks.headers[.cacheControl] == "public, max-age=300")
            let verifier = JWTKeyCollection()
            try await verifier.add(jwksJSON: jwks.text)
            let claims = try await verifier.verify(token, as: EmbedTokenClaims.self)
            #expect(claims.aud == "parley-embed")
            #expect(claims.iss == "http://parley.test")
            #expect(claims.sub == "u-42")
            #expect(claims.wid == tenant.workspace)
            #expect(claims.bid == tenant.bot)
            #expect(claims.exp - claims.iat == 3600)
            #expect(claims.nbf == claims.iat)
            #expect(claims.md == ["plan": .string("pro")])
            #expect(claims.jti.hasPrefix("jti_"))

            let header = try #require(Data(base64URLEncoded: token.split(separator: ".")[0]))
            let fields = try #require(try JSONSerialization.jsonObject(with: header) as? [String: Any])
            #expect(fields["alg"] as? String == "EdDSA")
            let keys = try #require(jwks["keys"] as? [[String: Any]])
            #expect(keys.map { $0["kid"] as? String } == [fields["kid"] as? String])
            #expect(keys.first?["kty"] as? String == "OKP")
            #expect(keys.first?["crv"] as? String == "Ed25519")
            #expect(keys.first?["d"] == nil, "the private half must never be published")
        }
    }

    @Test func botEmbedTokenMintsAnAnonymousVisitorWithoutABody() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let minted = try await api.request(.post, "/v1/bots/\(tenant.bot)/embed-token", as: .bearer(tenant.key))
            #expect(minted.status == .ok, "\(minted.text)")
            let data = try #require(minted["data"] as? [String: Any])
            #expect(data["ttl_seconds"] as? Int == 3600)
            let token = try #require(data["token"] as? String)
            let session = try await api.session(token)
            let userID = try #require((session["user"] as? [String: Any])?["id"] as? String)
            #expect(userID.hasPrefix("anon_"))

            // Generated clients send the JSON content type with an empty body when no field is set.
            let jsonButEmpty = try await api.request(
                .post, "/v1/bots/\(tenant.bot)/embed-token", as: .bearer(tenant.key), headers: [.contentType: "application/json"])
            #expect(jsonButEmpty.status == .ok, "\(jsonButEmpty.text)")
            let notJSON = try await api.request(
                .post, "/v1/bots/\(tenant.bot)/embed-token", as: .bearer(tenant.key), rawBody: Data("ttl=60".utf8),
                headers: [.contentType: "application/x-www-form-urlencoded"])
            #expect(notJSON.status == .unsupportedMediaType, "a body that is there is still JSON or refused")
        }
    }

    @Test func botEmbedTokenNamesTheVisitorAndHonoursTheTTL() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let minted = try await api.request(
                .post, "/v1/bots/\(tenant.bot)/embed-token", as: .bearer(tenant.key),
                json: ["ttl_seconds": 120, "visitor_id": "v-7", "visitor_name": "Vic", "metadata": ["tier": 2]])
            let data = try #require(minted["data"] as? [String: Any])
            #expect(data["ttl_seconds"] as? Int == 120)
            let session = try await api.session(try #require(data["token"] as? String))
            #expect((session["user"] as? [String: Any])?["id"] as? String == "v-7")
            #expect((session["user"] as? [String: Any])?["name"] as? String == "Vic")
        }
    }

    @Test func aBotOfAnotherWorkspaceIsNotFound() async throws {
        try await TestServer().run { api throws in
            let mine = try await Tenant.make(api)
            let theirs = try await Tenant.make(api)
            let viaPath = try await api.request(.post, "/v1/bots/\(theirs.bot)/embed-token", as: .bearer(mine.key))
            #expect(viaPath.status == .notFound)
            #expect(viaPath.errorCode == "not_found")
            let viaBody = try await api.generateToken(key: mine.key, workspace: mine.workspace, extra: ["botId": theirs.bot])
            #expect(viaBody.errorCode == "not_found")
        }
    }

    @Test(arguments: [59, 86_401, -1, 0])
    func ttlOutsideTheWorkspaceBoundsIsRefused(ttl: Int) async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let response = try await api.generateToken(key: tenant.key, workspace: tenant.workspace, extra: ["ttlSeconds": ttl])
            #expect(response.status == .badRequest)
            #expect(response.errorCode == "invalid_request")
            #expect(response.errorParam == "ttlSeconds")
            let viaBot = try await api.request(
                .post, "/v1/bots/\(tenant.bot)/embed-token", as: .bearer(tenant.key), json: ["ttl_seconds": ttl])
            #expect(viaBot.errorParam == "ttl_seconds")
        }
    }

    @Test func ttlFollowsTheWorkspaceSettings() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api, settings: ["default_token_ttl": 600, "max_token_ttl": 900])
            let minted = try await api.request(.post, "/v1/bots/\(tenant.bot)/embed-token", as: .bearer(tenant.key))
            #expect((minted["data"] as? [String: Any])?["ttl_seconds"] as? Int == 600)
            let tooLong = try await api.generateToken(key: tenant.key, workspace: tenant.workspace, extra: ["ttlSeconds": 901])
            #expect(tooLong.errorCode == "invalid_request")
            let atMax = try await api.generateToken(key: tenant.key, workspace: tenant.workspace, extra: ["ttlSeconds": 900])
            #expect(atMax.status == .ok)
        }
    }

    @Test func userContextIDIsRequired() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let missing = try await api.request(
                .post, "/api/v1/embed/generate-token", as: .bearer(tenant.key),
                json: ["workspaceId": tenant.workspace, "userContext": ["email": "x@example.com"]])
            #expect(missing.status == .badRequest)
            #expect(missing.errorCode == "invalid_request")
            #expect(missing.errorParam == "userContext.id")
            let empty = try await api.generateToken(key: tenant.key, workspace: tenant.workspace, user: "")
            #expect(empty.errorParam == "userContext.id")
            let wrongType = try await api.request(
                .post, "/api/v1/embed/generate-token", as: .bearer(tenant.key),
                json: ["workspaceId": tenant.workspace, "userContext": ["id": 42]])
            #expect(wrongType.errorCode == "invalid_request")
            #expect(wrongType.errorParam == "userContext.id")
        }
    }

    @Test func aKeyCannotMintForAnotherWorkspace() async throws {
        try await TestServer().run { api throws in
            let mine = try await Tenant.make(api)
            let theirs = try await Tenant.make(api)
            let response = try await api.generateToken(key: mine.key, workspace: theirs.workspace)
            #expect(response.status == .notFound)
            #expect(response.errorCode == "workspace_not_found")
            let unknown = try await api.generateToken(key: mine.key, workspace: "no-such-workspace")
            #expect(unknown.text.replacingOccurrences(of: #""request_id":"req_\w+""#, with: "", options: .regularExpression)
                == response.text.replacingOccurrences(of: #""request_id":"req_\w+""#, with: "", options: .regularExpression),
                "another tenant's workspace must look exactly like a missing one")
        }
    }

    @Test func theOperatorKeyMintsForAnyWorkspace() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: api.adminKey, workspace: tenant.workspace)
            #expect(try await api.session(token).status == .ok)
        }
    }

    @Test func mintingIsRateLimitedPerKeyWithRetryAfter() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api, settings: ["token_mint_rate_per_second": 0.5, "token_mint_burst": 3])
            for _ in 0..<3 {
                #expect(try await api.generateToken(key: tenant.key, workspace: tenant.workspace).status == .ok)
            }
            let limited = try await api.generateToken(key: tenant.key, workspace: tenant.workspace)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.errorCode == "rate_limited")
            #expect(limited.headers[.retryAfter] == "2")
            let otherKey = try await api.createAPIKey(workspace: tenant.workspace)
            #expect(try await api.generateToken(key: otherKey, workspace: tenant.workspace).status == .ok, "buckets are per key")
        }
    }

    @Test func everyIssueAndRevocationIsAudited() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            _ = try await api.mint(key: tenant.key, workspace: tenant.workspace, user: "u-1", extra: ["metadata": ["plan": "pro"]])
            let revoked = try await api.request(
                .post, "/api/v1/embed/revoke-token", as: .bearer(tenant.key), json: ["workspaceId": tenant.workspace, "userId": "u-1"])
            #expect(revoked["revoked"] as? Int == 1)

            let audit = try await api.request(.get, "/admin/v1/workspaces/\(tenant.workspace)/audit?type=token.issued")
            let issued = try #require((audit["data"] as? [[String: Any]])?.first)
            #expect(issued["user_id"] as? String == "u-1")
            let keyID = try #require(
                (try await api.request(.get, "/admin/v1/workspaces/\(tenant.workspace)/api-keys")["data"] as? [[String: Any]])?.first?["id"]
                    as? String)
            #expect(issued["actor"] as? String == keyID, "the actor is the key's id")
            let details = try #require(issued["data"] as? [String: Any])
            #expect(details["email"] as? String == "jane@example.com")
            #expect((details["metadata"] as? [String: Any])?["plan"] as? String == "pro")
            #expect(!audit.text.contains(tenant.key), "the key itself is never in the audit log")

            let revocations = try await api.request(.get, "/admin/v1/workspaces/\(tenant.workspace)/audit?type=token.revoked")
            let line = try #require((revocations["data"] as? [[String: Any]])?.first)
            #expect(line["user_id"] as? String == "u-1")
            #expect((line["data"] as? [String: Any])?["revoked"] as? Int == 1)
        }
    }

    @Test func auditPagesByCursor() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            for index in 0..<5 { _ = try await api.mint(key: tenant.key, workspace: tenant.workspace, user: "u-\(index)") }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "&cursor=\($0)" } ?? ""
                let page = try await api.request(.get, "/admin/v1/workspaces/\(tenant.workspace)/audit?type=token.issued&limit=2\(query)")
                let rows = try #require(page["data"] as? [[String: Any]])
                #expect(rows.count <= 2)
                seen += rows.compactMap { $0["user_id"] as? String }
                cursor = page["next_cursor"] as? String
            } while cursor != nil
            #expect(seen == ["u-4", "u-3", "u-2", "u-1", "u-0"], "newest first, each once")
            let bad = try await api.request(.get, "/admin/v1/workspaces/\(tenant.workspace)/audit?cursor=notacursor")
            #expect(bad.errorParam == "cursor")
        }
    }
}
