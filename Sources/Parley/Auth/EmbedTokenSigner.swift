import Crypto
import Foundation

/// Signs embed tokens with one Ed25519 key, writing the compact JWS (RFC 7515) directly.
///
/// jwt-kit still verifies every token; signing goes around it because its route encodes the
/// header and the claims through `JSONEncoder` and copies the parts several times, on the API's
/// busiest call. The header is encoded once per key. The claims' JSON comes from
/// `EmbedTokenClaims.writeJSON`; the tests check every shape of token this writes against
/// jwt-kit, and the interop suite against PyJWT.
package struct EmbedTokenSigner: Sendable {
    let kid: String
    private let key: Curve25519.Signing.PrivateKey
    /// `base64url({"alg":"EdDSA","kid":…,"typ":"JWT"})`.
    private let encodedHeader: [UInt8]

    package init(kid: String, key: Curve25519.Signing.PrivateKey) {
        self.kid = kid
        self.key = key
        var header = JSONObjectWriter(capacity: 48 + kid.utf8.count)
        header.field("alg", SigningKeyRing.algorithm)
        header.field("kid", kid)
        header.field("typ", "JWT")
        encodedHeader = Base64URL.encode(header.bytes())
    }

    /// The compact token: header, claims and signature, each base64url, joined by dots.
    func sign(_ claims: EmbedTokenClaims) throws -> String {
        var payload = JSONObjectWriter(capacity: 320)
        claims.writeJSON(into: &payload)
        return try token(payload: payload.bytes())
    }

    /// The compact token for the claims' JSON `payloadBytes`, as they are.
    package func token(payload payloadBytes: [UInt8]) throws -> String {
        var token = encodedHeader
        token.reserveCapacity(encodedHeader.count + payloadBytes.count * 4 / 3 + 92)
        token.append(UInt8(ascii: "."))
        Base64URL.append(payloadBytes, to: &token)
        let signature = try key.signature(for: token)
        token.append(UInt8(ascii: "."))
        Base64URL.append(signature, to: &token)
        return String(decoding: token, as: UTF8.self)
    }
}
