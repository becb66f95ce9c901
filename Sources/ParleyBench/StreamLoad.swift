import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One stream to open: what to POST, and where.
struct PlannedRequest: Sendable, Decodable {
    var path: String
    var headers: [String: String]
    var body: String

    static func load(fromJSONLines path: String) throws -> [PlannedRequest] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { try decoder.decode(PlannedRequest.self, from: Data($0.utf8)) }
    }
}

/// What one stream saw. Times are in milliseconds from the moment its request was written.
struct StreamOutcome: Sendable {
    var firstToken: Double?
    var total: Double?
    var failure: String?
}

/// Every stream's outcome, printed as one JSON object for `bench/run.py` to summarise.
struct LoadReport: Sendable {
    var outcomes: [StreamOutcome]

    func json() -> String {
        let completed = outcomes.filter { $0.failure == nil }
        let failures = outcomes.compactMap(\.failure)
        let object: [String: Any] = [
            "streams": outcomes.count,
            "completed": completed.count,
            "errors": failures.count,
            "error_samples": Array(Set(failures).prefix(5)),
            "ttft_ms": completed.compactMap(\.firstToken),
            "total_ms": completed.compactMap(\.total),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Opens planned streams over plain HTTP/1.1, keeping `concurrency` of them in flight, each on
/// its own connection, and times each one with `StreamProbe`.
struct StreamLoad {
    let host: String
    let port: Int
    let concurrency: Int
    let firstMarker: [UInt8]
    let endMarker: [UInt8]
    let threads: Int
    /// Lane i of n waits i/n of this before its first request.
    var spread: Duration = .zero

    func run(_ requests: [PlannedRequest]) async throws -> LoadReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let board = Board(count: requests.count)
        await withTaskGroup(of: Void.self) { lanes in
            let laneCount = min(concurrency, requests.count)
            for lane in 0..<laneCount {
                lanes.addTask {
                    try? await Task.sleep(for: spread * lane / laneCount)
                    while true {
                        let index = board.nextIndex.add(1, ordering: .relaxed).oldValue
                        guard index < requests.count else { return }
                        let outcome = await open(requests[index], on: group.next())
                        board.outcomes.withLock { $0[index] = outcome }
                    }
                }
            }
        }
        try await group.shutdownGracefully()
        return LoadReport(outcomes: board.outcomes.withLock { $0.map { $0 ?? StreamOutcome(failure: "not run") } })
    }

    /// Which request goes next, and what each one saw, shared by the lanes.
    private final class Board: Sendable {
        let nextIndex = Atomic<Int>(0)
        let outcomes: Mutex<[StreamOutcome?]>

        init(count: Int) {
            outcomes = Mutex([StreamOutcome?](repeating: nil, count: count))
        }
    }

    private func open(_ request: PlannedRequest, on eventLoop: any EventLoop) async -> StreamOutcome {
        let promise = eventLoop.makePromise(of: StreamOutcome.self)
        let (host, port, firstMarker, endMarker) = (host, port, firstMarker, endMarker)
        let connected = ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(30))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        StreamProbe(request: request, host: host, firstMarker: firstMarker, endMarker: endMarker, promise: promise))
                }
            }
            .connect(host: host, port: port)
        connected.whenFailure { promise.fail($0) }
        do {
            return try await promise.futureResult.get()
        } catch {
            return StreamOutcome(failure: "connect: \(error)")
        }
    }
}

/// Sends one request when the connection is up, then watches the response go by: the time its
/// first-token marker arrives, and whether the end marker came before the response ended.
final class StreamProbe: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let request: PlannedRequest
    private let host: String
    private let promise: EventLoopPromise<StreamOutcome>
    private var firstMarker: MarkerScanner
    private var endMarker: MarkerScanner
    private var sentAt = NIODeadline.now()
    private var firstTokenAt: NIODeadline?
    private var status: HTTPResponseStatus?
    private var finished = false

    init(request: PlannedRequest, host: String, firstMarker: [UInt8], endMarker: [UInt8], promise: EventLoopPromise<StreamOutcome>) {
        self.request = request
        self.host = host
        self.firstMarker = MarkerScanner(marker: firstMarker)
        self.endMarker = MarkerScanner(marker: endMarker)
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(name: "Content-Length", value: String(request.body.utf8.count))
        headers.add(name: "Connection", value: "close")
        for (name, value) in request.headers { headers.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: request.path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: request.body)))), promise: nil)
        sentAt = .now()
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
        case .body(let buffer):
            if firstTokenAt == nil, firstMarker.scan(buffer) { firstTokenAt = .now() }
            _ = endMarker.scan(buffer)
        case .end:
            finish(context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        complete(StreamOutcome(failure: "\(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete(StreamOutcome(failure: "connection closed before the response ended"))
        context.fireChannelInactive()
    }

    private func finish(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if status != .ok {
            complete(StreamOutcome(failure: "status \(status.map { String($0.code) } ?? "none")"))
        } else if firstTokenAt == nil {
            complete(StreamOutcome(failure: "no first token"))
        } else if !endMarker.found {
            complete(StreamOutcome(failure: "response ended without its end marker"))
        } else {
            complete(StreamOutcome(firstToken: Self.milliseconds(from: sentAt, to: firstTokenAt!), total: Self.milliseconds(from: sentAt, to: now)))
        }
        context.close(promise: nil)
    }

    private func complete(_ outcome: StreamOutcome) {
        guard !finished else { return }
        finished = true
        promise.succeed(outcome)
    }

    private static func milliseconds(from start: NIODeadline, to end: NIODeadline) -> Double {
        Double((end - start).nanoseconds) / 1_000_000
    }
}

/// Finds a byte string in a stream of buffers, even when a buffer boundary cuts through it.
struct MarkerScanner {
    let marker: [UInt8]
    private(set) var found = false
    private var carried: [UInt8] = []

    init(marker: [UInt8]) {
        self.marker = marker
    }

    /// - Returns: whether the marker has been seen, in this buffer or before.
    mutating func scan(_ buffer: ByteBuffer) -> Bool {
        guard !found else { return true }
        let window = carried + buffer.readableBytesView
        found = window.count >= marker.count && window.indices.dropLast(marker.count - 1).contains { start in
            window[start] == marker[0] && window[start..<(start + marker.count)].elementsEqual(marker)
        }
        carried = Array(window.suffix(marker.count - 1))
        return found
    }
}
