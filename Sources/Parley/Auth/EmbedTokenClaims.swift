import Foundation
import JWTKit

/// The payload of an embed token (DESIGN.md §1).
///
/// Times are NumericDate seconds as RFC 7519 defines them, so any JWT library reads them. The
/// claims are checked by `EmbedTokenVerifier` against the injected clock, not by jwt-kit, so
/// `verify(using:)` does nothing: jwt-kit is only trusted with the signature.
struct EmbedTokenClaims: JWTPayload, Equatable {
    static let audience = "parley-embed"

    var iss: String
    var aud: String
    /// The end user's id in the customer's system, or `anon_…` for an anonymous visitor.
    var sub: String
    /// Workspace id.
    var wid: String
    /// Bot id.
    var bid: String
    var jti: String
    var iat: Int64
    var nbf: Int64
    var exp: Int64
    var email: String?
    var name: String?
    /// Free-form metadata the customer's backend attached; echoed, never interpreted.
    var md: [String: JSONValue]?

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The identity a verified embed token proves, as the chat API sees it.
///
/// A class, so a request context carries one reference rather than the claims and the workspace
/// inline: every middleware and handler frame holds a copy of its context, and a streaming
/// connection's task keeps its deepest stack for as long as the stream lasts.
final class EmbedSession: Sendable {
    let claims: EmbedTokenClaims
    let workspace: WorkspaceRecord

    init(claims: EmbedTokenClaims, workspace: WorkspaceRecord) {
        self.claims = claims
        self.workspace = workspace
    }

    var userID: String { claims.sub }
    var workspaceID: String { claims.wid }
    var botID: String { claims.bid }
    var expiresAt: Date { Date(timeIntervalSince1970: TimeInterval(claims.exp)) }
}
