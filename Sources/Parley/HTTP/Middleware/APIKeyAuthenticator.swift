import Foundation
import Hummingbird
import Logging
import Synchronization

/// Proves the `Authorization: Bearer sk_…` of the issuance and admin API.
///
/// A missing header is left for the route group's context to refuse (`missing_token`). Any
/// other failure (wrong shape, an embed token, an unknown or revoked key) gets the one
/// `invalid_api_key` body, so the answer does not say which it was. Keys are looked up by
/// their SHA-256 and the stored hash is then compared in constant time.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = ParleyRequestContext

    let credentials: any CredentialStore
    /// SHA-256 of `PARLEY_ADMIN_KEY`, when set.
    let environmentAdminKeyHash: Data?
    let clock: WallClock
    /// `last_used_at` is written at most this often per key, so a busy key costs no write per request.
    let lastUsedResolution: Int64 = 60_000

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let presented = try BearerCredential.read(from: request) else {
            return try await next(request, context)
        }
        var context = context
        context.apiCredential = try await authenticate(presented)
        if let id = context.apiCredential?.id {
            context.logger[metadataKey: "parley.credential_id"] = .string(id)
        }
        return try await next(request, context)
    }

    func authenticate(_ presented: String) async throws -> APICredential {
        guard let secret = APIKeySecret(parsing: presented) else { throw ParleyError.invalidAPIKey }
        let hash = secret.hash
        switch secret.kind {
        case .admin:
            if let environmentAdminKeyHash, environmentAdminKeyHash.constantTimeEquals(hash) {
                return APICredential(id: "env", authority: .operatorKey)
            }
            guard let record = try await credentials.findAdminKey(secretHash: hash),
                record.secretHash.constantTimeEquals(hash), record.revokedAt == nil
            else { throw ParleyError.invalidAPIKey }
            return APICredential(id: record.id, authority: .operatorKey)
        case .workspace:
            guard let record = try await credentials.findAPIKey(secretHash: hash),
                record.secretHash.constantTimeEquals(hash), record.revokedAt == nil
            else { throw ParleyError.invalidAPIKey }
            let now = clock.nowMilliseconds
            if now - (record.lastUsedAt ?? 0) >= lastUsedResolution {
                try await credentials.markUsed(apiKeyID: record.id, at: now)
            }
            return APICredential(id: record.id, authority: .workspaceKey(workspaceID: record.workspaceId, scope: record.scope))
        }
    }
}

/// Reads `Authorization: Bearer <credential>`.
enum BearerCredential {
    /// - Returns: the credential, or `nil` when there is no `Authorization` header.
    /// - Throws: `invalid_api_key`/`invalid_token` is left to the caller; this throws
    ///   `missing_token` only for a header that is not a Bearer credential at all.
    static func read(from request: Request) throws -> String? {
        try read(header: request.headers[.authorization])
    }

    /// The credential in an `Authorization` header's value.
    static func read(header: String?) throws -> String? {
        guard let header else { return nil }
        guard header.utf8.count <= RequestLimits.maxCredentialBytes + 7 else {
            throw ParleyError.invalidToken("The credential is too long.")
        }
        // Byte by byte: every request runs this, and Foundation's `trimmingCharacters` walks
        // Unicode scalars through a `CharacterSet` for what is an ASCII header.
        let bytes = header.utf8
        let scheme = bytes.prefix { $0 != UInt8(ascii: " ") }
        guard scheme.count == 6, scheme.endIndex < bytes.endIndex, scheme.elementsEqual("bearer".utf8, by: { $0 | 0x20 == $1 }) else {
            throw ParleyError.missingToken
        }
        let value = bytes[scheme.endIndex...].drop(while: isOptionalWhitespace)
        guard let last = value.lastIndex(where: { !isOptionalWhitespace($0) }) else { return nil }
        return String(Substring(value[...last]))
    }

    /// RFC 9110's OWS: space and horizontal tab.
    private static func isOptionalWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }
}
