import ArgumentParser
import CurlStream
import Hummingbird

/// The floor for Parley's relay on Parley's own stack: Hummingbird in front, `CurlClient` behind,
/// and nothing between them. Each POST is sent on to the provider as it came, and the provider's
/// bytes go back to the client as they arrive, one write per chunk read.
///
/// It checks no token, stores nothing and parses nothing, so what Parley adds on top of it is
/// Parley's own work; what it adds on top of nginx is the cost of the stack (Swift's concurrency,
/// SwiftNIO, libcurl's multi interface on its own thread), which no change inside Parley removes.
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

    func run() async throws {
        let curl = CurlClient()
        defer { curl.shutdown() }
        let upstream = "http://127.0.0.1:\(upstreamPort)/v1/chat/completions"
        let maxBodyBytes = self.maxBodyBytes
        let router = Router()
        router.get("readyz") { _, _ in "ok" }
        router.post("**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: maxBodyBytes)
            let answer = try await curl.execute(
                CurlRequest(
                    url: upstream, method: "POST", headers: [("Content-Type", "application/json")],
                    body: Array(buffer: body)))
            return Response(
                status: .init(code: answer.status), headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    for try await chunk in answer.body {
                        try await writer.write(ByteBuffer(bytes: chunk))
                    }
                    try await writer.finish(nil)
                })
        }
        let app = Application(router: router, configuration: listener.configuration)
        try await app.runService()
    }
}
