import Crypto
import Foundation
import JWTKit
import Logging

/// The Ed25519 keys that sign and verify embed tokens, loaded from `signing_keys`.
///
/// The newest unretired key signs (`EmbedTokenSigner`), always naming itself in the `kid`
/// header. jwt-kit verifies, holding the public half of every stored key and looking the `kid`
/// up among them: its "default key" fallback is cleared, so a token
/// with a missing or unknown `kid` never reaches a key it did not name. Keys rotated by another
/// process (`parley keys rotate`) are picked up within `refreshInterval`, or at once when a
/// token names a `kid` this process has not seen (at most once per `unknownKidBackoff`, so
/// forged kids cannot turn into a stream of database reads).
actor SigningKeyRing {
    static let algorithm = "EdDSA"

    private let store: any SigningKeyStore
    private let secretBox: SecretBox
    private let clock: WallClock
    private let logger: Logger
    private let refreshInterval: TimeInterval = 30
    private let unknownKidBackoff: TimeInterval = 5

    private var collection = JWTKeyCollection()
    private var knownKids: Set<String> = []
    private var signer: EmbedTokenSigner?
    private var loadedAt: Date = .distantPast

    init(store: any SigningKeyStore, secretBox: SecretBox, clock: WallClock, logger: Logger) {
        self.store = store
        self.secretBox = secretBox
        self.clock = clock
        self.logger = logger
    }

    /// Loads the keys, creating the first one on a new database.
    func load() async throws {
        if try await store.allSigningKeys().isEmpty {
            _ = try await Self.rotate(store: store, secretBox: secretBox, clock: clock, actor: "system")
        }
        try await reload()
    }

    /// Creates a new signing key and retires the current one. Tokens it signed stay verifiable,
    /// and its public half stays in the JWKS until the last of them expires.
    ///
    /// - Returns: the new key's `kid`.
    static func rotate(store: any SigningKeyStore, secretBox: SecretBox, clock: WallClock, actor: String) async throws -> String {
        let kid = RandomToken.id("sig_")
        let privateKey = Curve25519.Signing.PrivateKey()
        let now = clock.nowMilliseconds
        let record = SigningKeyRecord(
            kid: kid,
            publicKey: privateKey.publicKey.rawRepresentation,
            privateKeySealed: try secretBox.seal(privateKey.rawRepresentation, label: "signing_key:\(kid)"),
            createdAt: now,
            retiredAt: nil
        )
        let audit = AuditEvent(workspaceId: nil, type: "signing_key.rotated", actor: actor, data: ["kid": .string(kid)], createdAt: now)
        try await store.rotate(to: record, audit: audit)
        return kid
    }

    /// The signer of the current key. Tokens are signed by the caller, outside this actor.
    func currentSigner() async throws -> EmbedTokenSigner {
        if clock.now.timeIntervalSince(loadedAt) > refreshInterval {
            try await reload()
        }
        guard let signer else { throw ParleyError.internalError }
        return signer
    }

    /// Checks the signature of `token` with the key named `kid`.
    ///
    /// - Throws: `invalid_token` when the key is unknown or the signature does not verify.
    func verifySignature(of token: String, kid: String) async throws -> EmbedTokenClaims {
        if !knownKids.contains(kid), clock.now.timeIntervalSince(loadedAt) > unknownKidBackoff {
            try await reload()
        }
        guard knownKids.contains(kid) else { throw ParleyError.invalidToken("The token's key id is unknown.") }
        do {
            return try await collection.verify(token, as: EmbedTokenClaims.self)
        } catch {
            throw ParleyError.invalidToken()
        }
    }

    /// The public keys a verifier may meet, as a JSON Web Key Set (RFC 7517).
    func jwks() async throws -> JSONWebKeySet {
        let keys = try await store.publishableSigningKeys(now: clock.nowMilliseconds)
        return JSONWebKeySet(
            keys: keys.map { key in
                .init(kty: "OKP", crv: "Ed25519", x: key.publicKey.base64URLEncoded, kid: key.kid, alg: Self.algorithm, use: "sig")
            })
    }

    private func reload() async throws {
        let records = try await store.allSigningKeys()
        let fresh = JWTKeyCollection()
        var kids: Set<String> = []
        var newSigner: EmbedTokenSigner?
        for record in records {
            if record.retiredAt == nil, newSigner == nil {
                let raw = try secretBox.unseal(record.privateKeySealed, label: "signing_key:\(record.kid)")
                newSigner = await EmbedTokenSigner(kid: record.kid, key: try Curve25519.Signing.PrivateKey(rawRepresentation: raw))
            }
            // jwt-kit only verifies, so it is given public halves alone.
            let key = try Curve25519.Signing.PublicKey(rawRepresentation: record.publicKey)
            await fresh.add(eddsa: EdDSA.PublicKey(backing: key), kid: JWKIdentifier(string: record.kid))
            kids.insert(record.kid)
        }
        _ = await fresh.clearDefault()
        // Only a change seen while running is news; the first load just names the key.
        if let newSigner, let signer, newSigner.kid != signer.kid {
            logger.info("embed tokens are now signed with a new key", metadata: ["parley.kid": .string(newSigner.kid)])
        } else if let newSigner, signer == nil {
            logger.debug("embed tokens are signed with the stored key", metadata: ["parley.kid": .string(newSigner.kid)])
        }
        collection = fresh
        knownKids = kids
        signer = newSigner
        loadedAt = clock.now
    }
}

/// `GET /.well-known/jwks.json`.
struct JSONWebKeySet: Codable, Sendable {
    struct Key: Codable, Sendable {
        var kty: String
        var crv: String
        var x: String
        var kid: String
        var alg: String
        var use: String
    }

    var keys: [Key]
}
