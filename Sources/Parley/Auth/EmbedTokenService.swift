import Foundation
import Logging

/// Issues, verifies and revokes embed tokens.
///
/// Issuing records the token (jti, user, bot, kid, expiry) and its audit line through the group
/// committer before the token is returned, so a token that exists can always be revoked and
/// every issue is in the audit log. Verifying checks, in order: size and shape, the header
/// (`alg` must be `EdDSA`, whatever jwt-kit would accept), the signature by `kid`, the claims
/// against the clock, then the token's row for revocation.
struct EmbedTokenService: Sendable {
    /// Tolerated clock difference for `nbf` and `iat`, for tokens issued by another instance.
    static let clockSkewLeeway: Int64 = 60
    static let maxTokenBytes = RequestLimits.maxCredentialBytes

    let stores: Stores
    let keyRing: SigningKeyRing
    let issuer: String
    let clock: WallClock
    /// Tokens whose signature was already checked; shared by every copy of this service.
    var verifiedSignatures = VerifiedTokenCache()

    struct User: Sendable {
        var id: String
        var email: String?
        var name: String?
    }

    struct Issued: Sendable {
        var token: String
        var claims: EmbedTokenClaims
        var expiresAt: Date { Date(timeIntervalSince1970: TimeInterval(claims.exp)) }
    }

    /// Signs a token for `user` of `workspace`, speaking to `bot`, valid for `ttl` seconds.
    ///
    /// - Throws: `invalid_request` (param named by `ttlParam`) when `ttl` is outside
    ///   60 s … the workspace's `max_token_ttl`.
    func issue(
        workspace: WorkspaceRecord,
        bot: BotRecord,
        user: User,
        ttl requestedTTL: Int?,
        ttlParam: String,
        metadata: [String: JSONValue]?,
        credential: APICredential
    ) async throws -> Issued {
        let ttl = requestedTTL ?? workspace.settings.defaultTokenTTL
        let maximum = workspace.settings.maxTokenTTL
        guard ttl >= 60, ttl <= maximum else {
            throw ParleyError.invalidRequest("\(ttlParam) must be between 60 and \(maximum) seconds", param: ttlParam)
        }
        let now = clock.now
        let issuedAt = Int64(now.timeIntervalSince1970)
        let claims = EmbedTokenClaims(
            iss: issuer,
            aud: EmbedTokenClaims.audience,
            sub: user.id,
            wid: workspace.id,
            bid: bot.id,
            jti: RandomToken.timeOrderedID("jti_", at: now.millisecondsSince1970),
            iat: issuedAt,
            nbf: issuedAt,
            exp: issuedAt + Int64(ttl),
            email: user.email,
            name: user.name,
            md: metadata
        )
        let signer = try await keyRing.currentSigner()
        let token = try await signer.sign(claims)
        let kid = signer.kid
        var details: [String: JSONValue] = ["jti": .string(claims.jti), "bot_id": .string(bot.id), "ttl_seconds": .number(Double(ttl))]
        if let email = user.email { details["email"] = .string(email) }
        if let name = user.name { details["name"] = .string(name) }
        if let metadata { details["metadata"] = .object(metadata) }
        try await stores.tokens.recordIssued(
            EmbedTokenRecord(
                jti: claims.jti, workspaceId: workspace.id, userId: user.id, botId: bot.id, kid: kid,
                apiKeyId: credential.isOperator ? nil : credential.id,
                issuedAt: now.millisecondsSince1970, expiresAt: claims.exp * 1000, revokedAt: nil),
            audit: AuditEvent(
                workspaceId: workspace.id, type: "token.issued", actor: credential.id, userId: user.id, data: details,
                createdAt: now.millisecondsSince1970)
        )
        return Issued(token: token, claims: claims)
    }

    /// Proves `token` and loads its workspace.
    ///
    /// - Parameter checkLifetime: `false` only for revocation, where an expired token may still
    ///   name the jti to revoke.
    /// - Throws: `invalid_token`, `token_expired` or `token_revoked` (DESIGN.md §2).
    func verify(_ token: String, checkLifetime: Bool = true) async throws -> EmbedSession {
        guard token.utf8.count <= Self.maxTokenBytes else { throw ParleyError.invalidToken("The token is too long.") }
        guard let header = Self.headerSegment(ofCompactJWT: token) else {
            throw ParleyError.invalidToken("The token is not a compact JWT.")
        }
        let claims = try await verifiedSignatures.claims(of: token) {
            try await keyRing.verifySignature(of: token, kid: try Self.decodeHeader(header).kid)
        }

        let now = Int64(clock.now.timeIntervalSince1970)
        guard claims.aud == EmbedTokenClaims.audience, claims.iss == issuer else {
            throw ParleyError.invalidToken("The token was not issued for Parley's embed API.")
        }
        if checkLifetime {
            guard claims.nbf <= now + Self.clockSkewLeeway, claims.iat <= now + Self.clockSkewLeeway else {
                throw ParleyError.invalidToken("The token is not valid yet.")
            }
            guard claims.exp > now else { throw ParleyError.tokenExpired }
        }
        let (record, workspace) = try await stores.tokens.findToken(jti: claims.jti, withWorkspace: claims.wid)
        guard let record, record.workspaceId == claims.wid, record.userId == claims.sub, let workspace else {
            // Signed by us but never recorded (a database restored from an older backup) or its
            // workspace was deleted: either way it must not work.
            throw ParleyError.tokenRevoked
        }
        if checkLifetime, record.revokedAt != nil { throw ParleyError.tokenRevoked }
        return EmbedSession(claims: claims, workspace: workspace)
    }

    private struct Header: Decodable {
        var alg: String
        var kid: String
        var crit: [String]?
    }

    private static func decodeHeader(_ segment: Substring) throws -> Header {
        guard let data = Data(base64URLEncoded: segment), let header = try? JSONDecoder().decode(Header.self, from: data) else {
            throw ParleyError.invalidToken("The token's header is not valid.")
        }
        guard header.alg == SigningKeyRing.algorithm else {
            throw ParleyError.invalidToken("The token's algorithm is not accepted.")
        }
        guard header.crit == nil else { throw ParleyError.invalidToken("The token's header is not valid.") }
        guard header.kid.utf8.count <= 64 else { throw ParleyError.invalidToken("The token's key id is unknown.") }
        return header
    }

    /// The header of a compact JWT: three non-empty base64url segments joined by dots; `nil` for
    /// anything else.
    static func headerSegment(ofCompactJWT token: String) -> Substring? {
        let segments = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard segments.count == 3, segments.allSatisfy({ !$0.isEmpty && $0.allSatisfy(isBase64URL) }) else { return nil }
        return Substring(segments[0])
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        RandomToken.isBase62(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
}
