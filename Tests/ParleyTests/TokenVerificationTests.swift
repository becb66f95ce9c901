import Crypto
import Foundation
import GRDB
import HTTPTypes
import Testing

@testable import Parley

/// Builds JWTs by hand, signed with the server's own key or not, to attack the verifier.
struct TokenForge {
    let kid: String
    let privateKey: Curve25519.Signing.PrivateKey

    /// Reads the current signing key out of a test server's data directory.
    static func load(from server: TestServer) throws -> TokenForge {
        let box = try SecretBox.loadOrCreateMasterKey(at: server.config.masterKeyURL)
        let queue = try DatabaseQueue(path: server.config.databaseURL.path)
        let record = try #require(try queue.read { db in
            try SigningKeyRecord.filter(Column("retired_at") == nil).fetchOne(db)
        })
        let raw = try box.unseal(record.privateKeySealed, label: "signing_key:\(record.kid)")
        return TokenForge(kid: record.kid, privateKey: try .init(rawRepresentation: raw))
    }

    static func segment(_ object: [String: Any]) throws -> String {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).base64URLEncoded
    }

    /// The payload of `token`, decoded.
    static func claims(of token: String) throws -> [String: Any] {
        let payload = try #require(Data(base64URLEncoded: token.split(separator: ".")[1]))
        return try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
    }

    /// `header.payload` signed with the server's Ed25519 key.
    func sign(header: [String: Any]? = nil, claims: [String: Any]) throws -> String {
        let input = try Self.segment(header ?? ["alg": "EdDSA", "typ": "JWT", "kid": kid]) + "." + Self.segment(claims)
        let signature = try privateKey.signature(for: Data(input.utf8))
        return input + "." + Data(signature).base64URLEncoded
    }
}

/// DESIGN.md §2 and §3: every way an embed token can be wrong has its own answer.
@Suite struct TokenVerificationTests {
    /// Runs `body` with a tenant, a valid token, its claims and a forge holding the server's key.
    func withToken(_ body: @Sendable (APIClient, TestServer, String, [String: Any], TokenForge) async throws -> Void) async throws {
        let server = TestServer()
        try await server.run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            try await body(api, server, token, try TokenForge.claims(of: token), try TokenForge.load(from: server))
        }
    }

    func expect(_ api: APIClient, _ token: String, is code: String, _ comment: Comment? = nil) async throws {
        let response = try await api.session(token)
        #expect(response.status == .unauthorized, comment)
        #expect(response.errorCode == code, comment)
    }

    @Test func aForgedCopyOfAValidTokenIsAcceptedSoTheForgeIsSound() async throws {
        try await withToken { api, _, _, claims, forge throws in
            #expect(try await api.session(try forge.sign(claims: claims)).status == .ok)
        }
    }

    @Test func noCredentialIsMissingToken() async throws {
        try await withToken { api, _, _, _, _ throws in
            let response = try await api.request(.get, "/v1/session", as: .none)
            #expect(response.status == .unauthorized)
            #expect(response.errorCode == "missing_token")
            let basic = try await api.request(.get, "/v1/session", as: .none, headers: [.authorization: "Basic dXNlcjpwYXNz"])
            #expect(basic.errorCode == "missing_token")
        }
    }

    @Test(arguments: ["none", "NONE", "None"])
    func algNoneIsRefused(alg: String) async throws {
        try await withToken { api, _, _, claims, forge throws in
            let unsigned = try TokenForge.segment(["alg": alg, "typ": "JWT", "kid": forge.kid]) + "." + TokenForge.segment(claims) + "."
            try await expect(api, unsigned, is: "invalid_token")
            let withJunkSignature = unsigned + "AAAA"
            try await expect(api, withJunkSignature, is: "invalid_token")
        }
    }

    @Test func hs256SignedWithThePublicKeyIsRefused() async throws {
        try await withToken { api, _, _, claims, forge throws in
            let publicKey = forge.privateKey.publicKey.rawRepresentation
            for secret in [publicKey, Data(publicKey.base64URLEncoded.utf8)] {
                let input = try TokenForge.segment(["alg": "HS256", "typ": "JWT", "kid": forge.kid]) + "." + TokenForge.segment(claims)
                let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: secret))
                try await expect(api, input + "." + Data(mac).base64URLEncoded, is: "invalid_token")
            }
        }
    }

    @Test func aTamperedPayloadIsRefused() async throws {
        try await withToken { api, _, token, claims, _ throws in
            var changed = claims
            changed["sub"] = "someone-else"
            let parts = token.split(separator: ".")
            let tampered = "\(parts[0]).\(try TokenForge.segment(changed)).\(parts[2])"
            try await expect(api, tampered, is: "invalid_token")
        }
    }

    /// A token whose signature was checked once is remembered by its exact bytes: a copy with
    /// another signature or payload is checked afresh, however often the original was used.
    @Test func aTokenAlreadyAcceptedDoesNotVouchForAlteredCopies() async throws {
        try await withToken { api, _, token, claims, _ throws in
            #expect(try await api.session(token).status == .ok)
            #expect(try await api.session(token).status == .ok, "the second use is served from what the first proved")
            let parts = token.split(separator: ".").map(String.init)
            var signature = Array(parts[2])
            signature[signature.count / 2] = signature[signature.count / 2] == "A" ? "B" : "A"
            try await expect(api, "\(parts[0]).\(parts[1]).\(String(signature))", is: "invalid_token")
            var changed = claims
            changed["sub"] = "someone-else"
            try await expect(api, "\(parts[0]).\(try TokenForge.segment(changed)).\(parts[2])", is: "invalid_token")
            #expect(try await api.session(token).status == .ok)
        }
    }

    @Test(arguments: ["sig_unknownunknownunkn", "", "../../../../etc/passwd", "' OR 1=1 --", String(repeating: "k", count: 5000)])
    func anUnknownOrInjectedKidIsRefused(kid: String) async throws {
        try await withToken { api, _, _, claims, forge throws in
            let token = try forge.sign(header: ["alg": "EdDSA", "typ": "JWT", "kid": kid], claims: claims)
            try await expect(api, token, is: "invalid_token", "kid \(kid.prefix(40))")
        }
    }

    @Test func aMissingKidIsRefusedEvenWhenSignedWithTheRealKey() async throws {
        try await withToken { api, _, _, claims, forge throws in
            try await expect(api, try forge.sign(header: ["alg": "EdDSA", "typ": "JWT"], claims: claims), is: "invalid_token")
        }
    }

    @Test func malformedTokensAreRefused() async throws {
        try await withToken { api, _, token, _, _ throws in
            try await expect(api, token + ".extra", is: "invalid_token", "four segments")
            try await expect(api, "not-a-jwt", is: "invalid_token")
            try await expect(api, "a.b", is: "invalid_token")
            try await expect(api, "eyJ!.eyJ!.sig", is: "invalid_token", "characters outside base64url")
            try await expect(api, "..", is: "invalid_token")
            let large = token + String(repeating: "A", count: 60_000)
            let response = try await api.session(large)
            #expect(response.status == .unauthorized, "a 60 KB token is refused before parsing, not with a server error")
            #expect(response.errorCode == "invalid_token")
            let huge = token + String(repeating: "A", count: 100_000)
            let inBody = try await api.request(.post, "/api/v1/embed/revoke-token", json: ["token": huge])
            #expect(inBody.status == .unauthorized, "a 100 KB token in a body is refused by size")
            #expect(inBody.errorCode == "invalid_token")
        }
    }

    /// The shape check every embed request passes before anything else: three non-empty base64url
    /// segments, and the first is the header.
    @Test func onlyThreeNonEmptyBase64URLSegmentsMakeACompactJWT() {
        #expect(EmbedTokenService.headerSegment(ofCompactJWT: "eyJh.eyJz.c2ln") == "eyJh")
        #expect(EmbedTokenService.headerSegment(ofCompactJWT: "a-_9.B.c") == "a-_9")
        for malformed in ["", "abc", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b.", "...", "a.b.c=", "a+b.c.d", "a/b.c.d", "é.b.c", "a.b.c\n"] {
            #expect(EmbedTokenService.headerSegment(ofCompactJWT: malformed) == nil, "\(malformed)")
        }
    }

    /// A header past the HTTP parser's 80 KiB cap never reaches Parley: the connection answers
    /// 400 and closes, and the server goes on serving.
    @Test func aHundredKilobyteHeaderIsRefusedByTheHTTPLayer() async throws {
        try await withToken { api, _, token, _, _ throws in
            let huge = token + String(repeating: "A", count: 100_000)
            let response = try? await api.session(huge)
            #expect(response.map { $0.status == .badRequest } ?? true)
        }
        try await withToken { api, _, token, _, _ throws in
            #expect(try await api.session(token).status == .ok)
        }
    }

    @Test func anExpiredTokenIsTokenExpired() async throws {
        let server = TestServer()
        try await server.run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace, extra: ["ttlSeconds": 60])
            #expect(try await api.session(token).status == .ok)
            server.clock.advance(by: 61)
            let response = try await api.session(token)
            #expect(response.status == .unauthorized)
            #expect(response.errorCode == "token_expired")
        }
    }

    @Test func aTokenNotYetValidIsInvalid() async throws {
        try await withToken { api, _, _, claims, forge throws in
            var future = claims
            let now = claims["iat"] as? Int ?? 0
            future["nbf"] = now + 3600
            try await expect(api, try forge.sign(claims: future), is: "invalid_token")
            future["nbf"] = now + 30
            future["iat"] = now + 30
            #expect(try await api.session(try forge.sign(claims: future)).status == .ok, "60 s of clock skew are tolerated")
        }
    }

    @Test func aWrongAudienceOrIssuerIsInvalid() async throws {
        try await withToken { api, _, _, claims, forge throws in
            var other = claims
            other["aud"] = "some-other-api"
            try await expect(api, try forge.sign(claims: other), is: "invalid_token")
            other = claims
            other["iss"] = "https://evil.example"
            try await expect(api, try forge.sign(claims: other), is: "invalid_token")
        }
    }

    @Test func aSignedTokenThatWasNeverIssuedIsRefused() async throws {
        try await withToken { api, _, _, claims, forge throws in
            var invented = claims
            invented["jti"] = "jti_" + RandomToken.base62(20)
            try await expect(api, try forge.sign(claims: invented), is: "token_revoked")
        }
    }

    @Test func anAPIKeyIsNotAnEmbedTokenAndTheReverse() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            let keyAsToken = try await api.session(tenant.key)
            #expect(keyAsToken.status == .unauthorized)
            #expect(keyAsToken.errorCode == "invalid_token")
            let tokenAsKey = try await api.generateToken(key: token, workspace: tenant.workspace)
            #expect(tokenAsKey.status == .unauthorized)
            #expect(tokenAsKey.errorCode == "invalid_api_key")
            let tokenOnAdmin = try await api.request(.get, "/admin/v1/workspaces", as: .bearer(token))
            #expect(tokenOnAdmin.errorCode == "invalid_api_key")
        }
    }

    // MARK: Revocation

    @Test func revokingByTokenByJtiByUserAndByWorkspace() async throws {
        let server = TestServer()
        try await server.run { api throws in
            let tenant = try await Tenant.make(api)
            func revoke(_ body: [String: Any]) async throws -> Int? {
                try await api.request(.post, "/api/v1/embed/revoke-token", as: .bearer(tenant.key), json: body)["revoked"] as? Int
            }

            let byToken = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            #expect(try await revoke(["token": byToken]) == 1)
            try await expect(api, byToken, is: "token_revoked")
            #expect(try await revoke(["token": byToken]) == 0, "revoking twice counts nothing")

            let byJTI = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            #expect(try await revoke(["jti": try TokenForge.claims(of: byJTI)["jti"] as Any]) == 1)
            try await expect(api, byJTI, is: "token_revoked")

            let first = try await api.mint(key: tenant.key, workspace: tenant.workspace, user: "u-9")
            let second = try await api.mint(key: tenant.key, workspace: tenant.workspace, user: "u-9")
            let bystander = try await api.mint(key: tenant.key, workspace: tenant.workspace, user: "u-10")
            #expect(try await revoke(["workspaceId": tenant.workspace, "userId": "u-9"]) == 2)
            try await expect(api, first, is: "token_revoked")
            try await expect(api, second, is: "token_revoked")
            #expect(try await api.session(bystander).status == .ok)
            let later = try await api.mint(key: tenant.key, workspace: tenant.workspace, user: "u-9")
            #expect(try await api.session(later).status == .ok, "only tokens issued so far are revoked")

            #expect(try await revoke(["workspaceId": tenant.workspace]) == 2)
            try await expect(api, bystander, is: "token_revoked")
            try await expect(api, later, is: "token_revoked")
        }
    }

    @Test func revocationNeedsExactlyOneSelectorAndStaysInTheKeysWorkspace() async throws {
        try await TestServer().run { api throws in
            let mine = try await Tenant.make(api)
            let theirs = try await Tenant.make(api)
            let theirToken = try await api.mint(key: theirs.key, workspace: theirs.workspace)
            let jti = try TokenForge.claims(of: theirToken)["jti"] as Any
            let byJTI = try await api.request(.post, "/api/v1/embed/revoke-token", as: .bearer(mine.key), json: ["jti": jti])
            #expect(byJTI.errorCode == "not_found")
            let byToken = try await api.request(.post, "/api/v1/embed/revoke-token", as: .bearer(mine.key), json: ["token": theirToken])
            #expect(byToken.errorCode == "workspace_not_found")
            let byWorkspace = try await api.request(
                .post, "/api/v1/embed/revoke-token", as: .bearer(mine.key), json: ["workspaceId": theirs.workspace])
            #expect(byWorkspace.errorCode == "workspace_not_found")
            #expect(try await api.session(theirToken).status == .ok)

            let nothing = try await api.request(.post, "/api/v1/embed/revoke-token", as: .bearer(mine.key), json: [:])
            #expect(nothing.errorCode == "invalid_request")
            let two = try await api.request(
                .post, "/api/v1/embed/revoke-token", as: .bearer(mine.key), json: ["jti": "x", "token": "y"])
            #expect(two.errorCode == "invalid_request")
        }
    }

    @Test func theAdminAPIRevokesByJtiOrUser() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace, user: "u-5")
            let path = "/admin/v1/workspaces/\(tenant.workspace)/tokens/revoke"
            #expect(try await api.request(.post, path, json: ["user_id": "u-5"])["revoked"] as? Int == 1)
            try await expect(api, token, is: "token_revoked")
            let other = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            #expect(try await api.request(.post, path, json: ["jti": try TokenForge.claims(of: other)["jti"] as Any])["revoked"] as? Int == 1)
            try await expect(api, other, is: "token_revoked")
        }
    }

    @Test func deletingTheWorkspaceEndsItsTokens() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            #expect(try await api.request(.delete, "/admin/v1/workspaces/\(tenant.workspace)").status == .noContent)
            try await expect(api, token, is: "token_revoked")
        }
    }

    // MARK: Origins

    @Test func browsersFromOriginsOutsideTheAllowListAreRefused() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            let allowed = try await api.session(token, origin: "https://app.example.com")
            #expect(allowed.status == .ok)
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(try await api.session(token, origin: "http://parley.test").status == .ok, "Parley's own pages")
            let refused = try await api.session(token, origin: "https://evil.example")
            #expect(refused.status == .forbidden)
            #expect(refused.errorCode == "origin_not_allowed")

            let preflight = try await api.request(
                .options, "/v1/session", as: .none,
                headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "GET"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            #expect(preflight.headers[.accessControlAllowCredentials] == nil)
        }
    }
}
