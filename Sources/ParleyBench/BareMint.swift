import ArgumentParser
import Crypto
import Foundation
import GRDB
import Hummingbird
import JWTKit
import Logging
import Parley

/// The floor for minting on Parley's own stack: what every mint must do, and nothing else.
///
/// A POST to `/api/v1/embed/generate-token` reads the body, signs a token with Parley's Ed25519
/// signer (its claims: a `jti` made as Parley makes one, and two times) and durably records it, with an audit row, in
/// SQLite, through Parley's own group committer and checkpointer on a database opened as Parley
/// opens its own (WAL, `synchronous=FULL`). It checks no key, reads no workspace, parses no JSON
/// and applies no rate limit, and its routes have no middleware. `GET /healthz` answers as Parley's
/// does, so the floor's ratio of minting to `/healthz` is measured on the same server: if even
/// this ratio is under the target's half, no change inside Parley's own work can reach it.
struct BareMintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare-mint",
        abstract: "Signs and durably records a token for every POST, with nothing else around it."
    )

    @OptionGroup var listener: LoopbackListener
    @Option(help: "Folder for the SQLite database (created by Parley's migrations).")
    var data: String

    static let maxBodyBytes = 16 * 1024
    static let lifetime: Int64 = 600

    func run() async throws {
        let database = try FloorDatabase(
            folder: data, file: "bare-mint.sqlite",
            schema: """
                CREATE TABLE IF NOT EXISTS bare_tokens (jti TEXT PRIMARY KEY, claims BLOB NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS bare_audit (id INTEGER PRIMARY KEY, type TEXT NOT NULL, jti TEXT NOT NULL, created_at INTEGER NOT NULL);
                """,
            logger: Logger(label: "parley-bench.bare-mint"))
        let committer = database.committer
        let signer = await EmbedTokenSigner(kid: "bare", key: Curve25519.Signing.PrivateKey())

        let router = Router()
        router.get("readyz") { _, _ in "ok" }
        router.get("healthz") { _, _ in Response.json(#"{"status":"ok"}"#) }
        router.post("/api/v1/embed/generate-token") { request, _ -> Response in
            _ = try await request.body.collect(upTo: Self.maxBodyBytes)
            let issuedAt = WallClock.system.nowMilliseconds
            let expiresAt = issuedAt + Self.lifetime * 1000
            let jti = RandomToken.timeOrderedID("jti_", at: issuedAt)
            let token = try await signer.sign(BareClaims(jti: jti, iat: issuedAt / 1000, exp: expiresAt / 1000))
            try await committer.write { db in
                try db.cachedStatement(sql: "INSERT INTO bare_tokens (jti, claims, issued_at, expires_at) VALUES (?, ?, ?, ?)")
                    .execute(arguments: [jti, Data(token.utf8), issuedAt, expiresAt])
                try db.cachedStatement(sql: "INSERT INTO bare_audit (type, jti, created_at) VALUES ('token.issued', ?, ?)")
                    .execute(arguments: [jti, issuedAt])
            }
            return Response.json(#"{"embedToken":""# + token + #""}"#)
        }
        let app = Application(
            router: router, configuration: listener.configuration, services: [database.checkpointer])
        try await app.runService()
    }
}

/// The claims of the floor's tokens; `EmbedTokenSigner` signs them, as it signs Parley's.
struct BareClaims: JWTPayload {
    var jti: String
    var iat: Int64
    var exp: Int64

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

extension Response {
    fileprivate static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
