import Crypto
import JWTKit

/// Signs embed tokens with one Ed25519 key, through jwt-kit: the header is `alg: EdDSA`,
/// `typ: JWT` and the key's `kid`, so verifiers find the key by name. Its key collection holds
/// this private key alone, so it cannot sign with any other.
package struct EmbedTokenSigner: Sendable {
    let kid: String
    private let keys: JWTKeyCollection

    package init(kid: String, key: Curve25519.Signing.PrivateKey) async {
        self.kid = kid
        keys = JWTKeyCollection()
        await keys.add(eddsa: EdDSA.PrivateKey(backing: key), kid: JWKIdentifier(string: kid))
    }

    /// The compact token (RFC 7515) of `claims`.
    package func sign(_ claims: some JWTPayload) async throws -> String {
        try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }
}
