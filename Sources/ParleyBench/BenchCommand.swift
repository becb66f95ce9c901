import ArgumentParser
import NIOCore

/// `parley-bench`: the compiled parts of `make bench` — the fast model provider every relay is
/// measured against, the load client that opens the streams and times them (Python would be too
/// slow to play either at a thousand streams), the idle server that is the floor for Parley's
/// idle memory, the bare relay that is the floor for its relay on the same stack, and the bare mint
/// that is the floor for its minting.
/// `bench/run.py` drives them.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-bench",
        abstract: "Benchmark helpers for `make bench`.",
        subcommands: [ProviderCommand.self, StreamsCommand.self, IdleServerCommand.self, BareRelayCommand.self, BareMintCommand.self]
    )
}

struct ProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider",
        abstract: "Serves an OpenAI-compatible streaming endpoint that answers every POST with the same paced reply."
    )

    @Option(help: "Port on 127.0.0.1; 0 picks a free one (printed as `listening PORT`).")
    var port = 0
    @Option(help: "Content chunks per reply.")
    var chunks = 50
    @Option(help: "Milliseconds between chunks; the first chunk goes out at once.")
    var intervalMs = 20
    @Option(help: "Event-loop threads.")
    var threads = 1

    func run() async throws {
        let pacing = ReplyPacing(chunks: chunks, interval: .milliseconds(Int64(intervalMs)))
        try await FastProvider(pacing: pacing, threads: threads).run(port: port)
    }
}

struct StreamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams",
        abstract: "Opens streaming requests, at most N at a time, and prints each one's timings as JSON.",
        discussion: """
            Each line of the requests file is one stream: {"path", "headers", "body"}. A stream's time to \
            first token is from the moment its request is written to the first byte of its first-token \
            marker; its total time is to the end of the response, which must contain the end marker.
            """
    )

    @Option(help: "Host to connect to.")
    var host = "127.0.0.1"
    @Option(help: "Port to connect to.")
    var port: Int
    @Option(help: "JSON-lines file of requests, one stream each.")
    var requests: String
    @Option(help: "Streams open at once.")
    var concurrency: Int
    @Option(help: "Bytes that mark the first token in the response body.")
    var firstMarker: String
    @Option(help: "Bytes that must appear before a response counts as complete.")
    var endMarker: String
    @Option(help: "Event-loop threads of the client.")
    var threads = 1
    @Option(
        help: """
            Start the streams' first requests evenly over this many milliseconds instead of all at once; \
            as each stream's next request follows its last, arrivals then stay spread.
            """)
    var spreadMs = 0

    func run() async throws {
        let planned = try PlannedRequest.load(fromJSONLines: requests)
        let load = StreamLoad(
            host: host, port: port, concurrency: concurrency,
            firstMarker: Array(firstMarker.utf8), endMarker: Array(endMarker.utf8), threads: threads, spread: .milliseconds(spreadMs))
        let report = try await load.run(planned)
        print(report.json())
    }
}
