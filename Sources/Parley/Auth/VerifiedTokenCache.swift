import Crypto
import Foundation
import Synchronization

/// The claims of embed tokens whose signature has already been checked, by the token's bytes.
///
/// A widget presents the same token on every request for as long as it lives, and an Ed25519
/// check plus the JSON decoding around it are the largest single cost of an authenticated chat
/// request. A signature's validity depends only on the token's bytes and the verifying key, and
/// signing keys are retired but never deleted, so an answer once true stays true. Only the
/// signature is remembered: lifetime, revocation and the workspace are still checked on every
/// request.
///
/// Entries are keyed by the SHA-256 of the token, so the cache holds no usable token. Past
/// `capacity` entries it starts over, which bounds memory whatever the traffic.
final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[SHA256Digest: EmbedTokenClaims]>([:])
    private let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    /// The claims `token` was already proved to carry, or else those `verify` proves (which are
    /// then remembered). A `verify` that throws leaves nothing behind.
    func claims(of token: String, orVerify verify: () async throws -> EmbedTokenClaims) async throws -> EmbedTokenClaims {
        let key = SHA256.hash(data: Data(token.utf8))
        if let known = entries.withLock({ $0[key] }) { return known }
        let claims = try await verify()
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = claims
        }
        return claims
    }
}
