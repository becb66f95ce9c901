import ArgumentParser
import CurlStream
import Foundation
import GRDB
import Hummingbird
import Logging
import Parley

/// The floor for Parley's relay on Parley's own stack: Hummingbird in front, `CurlClient` behind,
/// and nothing between them. Each POST is sent on to the provider as it came, and the provider's
/// bytes go back to the client as they arrive, one write per chunk read.
///
/// It checks no token, stores nothing and parses nothing, so what Parley adds on top of it is
/// Parley's own work; what it adds on top of nginx is the cost of the stack (Swift's concurrency,
/// SwiftNIO, libcurl's multi interface on its own thread), which no change inside Parley removes.
///
/// With `--data` it also does the one thing the contract asks before any answer: each request's
/// body is committed durably (WAL, `synchronous=FULL`, Parley's group committer and
/// checkpointer) while the provider request is on its way, and the response opens only once both
/// are done, as Parley's opens only once the user message is stored. That floor is the stack plus
/// the disk's flush, with none of Parley's reads, checks or parsing.
struct BareRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare-relay",
        abstract: "Relays every POST to the provider and streams its answer back untouched."
    )

    @OptionGroup var listener: LoopbackListener
    @Option(help: "The provider's port on 127.0.0.1.")
    var upstreamPort: Int
    @Option(help: "Largest request body read, in bytes.")
    var maxBodyBytes = 1 << 20
    @Option(help: "Folder for a SQLite database; when given, each request's body is stored durably before the response opens.")
    var data: String?

    func run() async throws {
        let curl = CurlClient()
        defer { curl.shutdown() }
        let upstream = "http://127.0.0.1:\(upstreamPort)/v1/chat/completions"
        let maxBodyBytes = self.maxBodyBytes
        let store = try data.map { try DurableRequestLog(folder: $0) }
        let router = Router()
        router.get("readyz") { _, _ in "ok" }
        router.post("**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: maxBodyBytes)
            async let stored: Void = store?.append(body) ?? ()
            let answer = try await curl.execute(
                CurlRequest(
                    url: upstream, method: "POST", headers: [("Content-Type", "application/json")],
                    body: Array(buffer: body)))
            try await stored
            return Response(
                status: .init(code: answer.status), headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    for try await chunk in answer.body {
                        try await writer.write(ByteBuffer(bytes: chunk))
                    }
                    try await writer.finish(nil)
                })
        }
        let app = Application(router: router, configuration: listener.configuration, services: store.map { [$0.database.checkpointer] } ?? [])
        try await app.runService()
    }
}

/// Every request body the durable bare relay received, one row each, committed as Parley
/// commits a user message.
struct DurableRequestLog: Sendable {
    let database: FloorDatabase

    init(folder: String) throws {
        database = try FloorDatabase(
            folder: folder, file: "bare-relay.sqlite",
            schema: "CREATE TABLE IF NOT EXISTS bare_requests (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
            logger: Logger(label: "parley-bench.bare-relay"))
    }

    /// Returns once `body` is on disk.
    func append(_ body: ByteBuffer) async throws {
        let bytes = Data(body.readableBytesView)
        try await database.committer.write { db in
            try db.cachedStatement(sql: "INSERT INTO bare_requests (body) VALUES (?)").execute(arguments: [bytes])
        }
    }
}
