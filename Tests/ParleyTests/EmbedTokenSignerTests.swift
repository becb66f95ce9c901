import Crypto
import Foundation
import JWTKit
import Testing

@testable import Parley

/// Tokens signed by `EmbedTokenSigner` verify with the key's public half alone and read back
/// exactly, whatever the claims hold.
@Suite struct EmbedTokenSignerTests {
    static let metadata: [[String: JSONValue]?] = [
        nil,
        [:],
        ["plan": .string("pro")],
        [
            "text": .string(#"quote " backslash \ slash / </script> line\nbreak nul\u{00} é 日本 🙂 \u{2028}"#),
            "numbers": .array([.number(0), .number(-7), .number(3), .number(1.5), .number(-0.25), .number(1e20), .number(1e-7), .number(999_999_999_999_999)]),
            "flags": .array([.bool(true), .bool(false), .null]),
            "nested": .object(["b": .object(["deeper": .array([])]), "a": .object([:]), "Z": .string("")]),
            "": .string("an empty key"),
        ],
    ]

    @Test(arguments: 0..<metadata.count)
    func whatTheSignerWritesJWTKitVerifiesAndReadsBack(_ index: Int) async throws {
        let key = Curve25519.Signing.PrivateKey()
        let signer = await EmbedTokenSigner(kid: "sig_abc", key: key)
        for (email, name) in [(nil, nil), ("jane@example.com", #"Jane "JJ" Doe"#)] as [(String?, String?)] {
            let claims = EmbedTokenClaims(
                iss: "https://parley.example", aud: EmbedTokenClaims.audience, sub: "u-42 ü", wid: "W123", bid: "bot_1",
                jti: "jti_0123456789", iat: 1_764_547_200, nbf: 1_764_547_200, exp: 1_764_550_800, email: email, name: name,
                md: Self.metadata[index])
            let token = try await signer.sign(claims)

            let verifier = JWTKeyCollection()
            await verifier.add(eddsa: EdDSA.PublicKey(backing: key.publicKey), kid: "sig_abc")
            #expect(try await verifier.verify(token, as: EmbedTokenClaims.self) == claims)

            let segments = token.split(separator: ".").map(String.init)
            #expect(segments.count == 3)
            let header = try JSONDecoder().decode([String: String].self, from: try #require(Data(base64URLEncoded: segments[0])))
            #expect(header == ["alg": "EdDSA", "kid": "sig_abc", "typ": "JWT"])
            let payload = try #require(Data(base64URLEncoded: segments[1]))
            #expect(try JSONDecoder().decode(EmbedTokenClaims.self, from: payload) == claims)
            let fields = try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
            #expect((fields["email"] == nil) == (email == nil), "an absent claim is left out, not null")
        }
    }

    @Test func aTokenSignedWithAnotherKeyIsRefused() async throws {
        let signer = await EmbedTokenSigner(kid: "sig_abc", key: Curve25519.Signing.PrivateKey())
        let claims = EmbedTokenClaims(
            iss: "i", aud: EmbedTokenClaims.audience, sub: "u", wid: "W", bid: "b", jti: "j", iat: 0, nbf: 0, exp: 60, email: nil, name: nil, md: nil)
        let token = try await signer.sign(claims)
        let verifier = JWTKeyCollection()
        await verifier.add(eddsa: EdDSA.PublicKey(backing: Curve25519.Signing.PrivateKey().publicKey), kid: "sig_abc")
        await #expect(throws: JWTError.self) { try await verifier.verify(token, as: EmbedTokenClaims.self) }
    }

    @Test func base64URLUsesTheURLAlphabetWithoutPaddingAndReadsBack() {
        // RFC 4648 §10's vectors, and the two characters that differ from base64.
        let vectors: [([UInt8], String)] = [
            ([], ""), (Array("f".utf8), "Zg"), (Array("fo".utf8), "Zm8"), (Array("foo".utf8), "Zm9v"), (Array("foob".utf8), "Zm9vYg"),
            (Array("fooba".utf8), "Zm9vYmE"), (Array("foobar".utf8), "Zm9vYmFy"), ([0xFB, 0xFF], "-_8"), ([0xFF, 0xFE, 0xFD], "__79"),
        ]
        for (bytes, encoded) in vectors {
            #expect(Data(bytes).base64URLEncoded == encoded, "\(bytes)")
            #expect(Data(base64URLEncoded: encoded) == Data(bytes))
        }
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = Data((0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
            #expect(Data(base64URLEncoded: bytes.base64URLEncoded) == bytes)
        }
    }
}
