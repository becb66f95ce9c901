import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A real HTTP server on a loopback port that answers each request with a script: a status,
/// headers, and a sequence of body steps (bytes, pauses, an abrupt disconnect, an endless drip).
///
/// Tests of `CurlStream` and of Parley's provider adapters talk to it over real sockets, and ask
/// it afterwards what it received and when the client went away.
public final class ScriptedUpstream: Sendable {
    public enum Step: Sendable {
        case bytes([UInt8])
        case text(String)
        case sleep(Duration)
        /// Drop the connection mid-response.
        case disconnect
        /// Send `text` every `interval` until the client goes away.
        case forever(String, every: Duration)
        /// Hold the response until the test opens `gate`.
        case wait(Gate)
    }

    /// A one-way latch a test opens to let a scripted response go on, so "the client got the
    /// first part before the rest existed" is shown by order, not by timing.
    public final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        public init() {}

        public func open() {
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }

        func wait() async {
            await withCheckedContinuation { continuation in
                let proceed = state.withLock { state -> Bool in
                    if state.open { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if proceed { continuation.resume() }
            }
        }
    }

    public struct Reply: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var delayBeforeHead: Duration
        public var steps: [Step]

        public init(status: Int = 200, headers: [(name: String, value: String)] = [], delayBeforeHead: Duration = .zero, steps: [Step] = []) {
            self.status = status
            self.headers = headers
            self.delayBeforeHead = delayBeforeHead
            self.steps = steps
        }
    }

    public struct Recorded: Sendable {
        public var method: String
        public var path: String
        public var headers: [String: String]
        public var body: [UInt8]

        public var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        }
    }

    private let script: @Sendable (Recorded) -> Reply
    private let received = Mutex<[Recorded]>([])
    private let wentAway = Mutex<[ContinuousClock.Instant]>([])

    public init(_ script: @escaping @Sendable (Recorded) -> Reply) {
        self.script = script
    }

    /// Every request received so far, in order.
    public var requests: [Recorded] { received.withLock { $0 } }
    /// When the server noticed a client had closed its connection mid-response.
    public var disconnects: [ContinuousClock.Instant] { wentAway.withLock { $0 } }

    struct Dropped: Error {}

    /// Starts the server, runs `body` with its base URL (`http://127.0.0.1:PORT`), then stops it.
    public func run<Value: Sendable>(_ body: @Sendable (String) async throws -> Value) async throws -> Value {
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { [self] request, _ in
            let bytes = try await request.body.collect(upTo: 64 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            headers["host"] = request.head.authority
            let recorded = Recorded(
                method: request.method.rawValue, path: request.uri.description, headers: headers, body: Array(bytes.readableBytesView))
            received.withLock { $0.append(recorded) }
            let reply = script(recorded)
            if reply.delayBeforeHead > .zero { try await Task.sleep(for: reply.delayBeforeHead) }
            var fields = HTTPFields()
            for header in reply.headers {
                if let name = HTTPField.Name(header.name) { fields[name] = header.value }
            }
            let steps = reply.steps
            return Response(
                status: .init(code: reply.status), headers: fields,
                body: ResponseBody { writer in
                    do {
                        for step in steps {
                            switch step {
                            case .bytes(let bytes): try await writer.write(ByteBuffer(bytes: bytes))
                            case .text(let text): try await writer.write(ByteBuffer(string: text))
                            case .sleep(let duration): try await Task.sleep(for: duration)
                            case .disconnect: throw Dropped()
                            case .wait(let gate): await gate.wait()
                            case .forever(let text, let interval):
                                while true {
                                    try await writer.write(ByteBuffer(string: text))
                                    try await Task.sleep(for: interval)
                                }
                            }
                        }
                        try await writer.finish(nil)
                    } catch is Dropped {
                        throw Dropped()
                    } catch {
                        self.wentAway.withLock { $0.append(.now) }
                        throw error
                    }
                })
        }
        router.get("**", use: handler)
        router.post("**", use: handler)
        router.get("/", use: handler)
        router.post("/", use: handler)
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "scripted-upstream")
        logger.logLevel = .critical
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { throw Dropped() }
            defer { group.cancelAll() }
            return try await body("http://127.0.0.1:\(port)")
        }
    }
}
