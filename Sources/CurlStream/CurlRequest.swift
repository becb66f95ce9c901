/// One HTTP request for `CurlClient`.
public struct CurlRequest: Sendable {
    public var url: String
    public var method: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    public var timeouts: CurlTimeouts
    /// `CURLOPT_RESOLVE` entries (`host:port:address`): connect to exactly these addresses, so a
    /// host checked against a policy cannot resolve elsewhere by the time the socket opens.
    public var resolve: [String]

    public init(
        url: String, method: String = "GET", headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
        timeouts: CurlTimeouts = .init(), resolve: [String] = []
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeouts = timeouts
        self.resolve = resolve
    }
}

/// Deadlines of a transfer. Each is enforced by the reactor (connect and total by libcurl).
public struct CurlTimeouts: Sendable, Equatable {
    public var connect: Duration
    /// From the start of the transfer to the first byte of the response.
    public var firstByte: Duration
    /// The longest silence between two received bytes (not counted while the reader is behind).
    public var idle: Duration
    public var total: Duration

    public init(connect: Duration = .seconds(10), firstByte: Duration = .seconds(60), idle: Duration = .seconds(60), total: Duration = .seconds(600)) {
        self.connect = connect
        self.firstByte = firstByte
        self.idle = idle
        self.total = total
    }
}

/// The head of a response and its body as an `AsyncSequence` of byte chunks.
///
/// Reading slowly pauses the transfer; dropping the response (or cancelling the reading task)
/// aborts it and closes its connection.
public struct CurlResponse: Sendable {
    public let status: Int
    /// Header names lowercased, in arrival order.
    public let headers: [(name: String, value: String)]
    public let body: Body

    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }

    public struct Body: AsyncSequence, Sendable {
        public typealias Element = [UInt8]
        let handle: TransferHandle

        public func makeAsyncIterator() -> Iterator {
            Iterator(handle: handle)
        }

        public struct Iterator: AsyncIteratorProtocol {
            let handle: TransferHandle

            public mutating func next() async throws -> [UInt8]? {
                do {
                    return try await handle.buffer.next()
                } catch {
                    // A reader that gives up takes the transfer down with it, now rather than
                    // when the last copy of the response is released.
                    if error is CancellationError || (error as? CurlError) == .cancelled { handle.abandon() }
                    throw error
                }
            }
        }

        /// Reads the whole body, refusing more than `limit` bytes.
        public func collect(upTo limit: Int) async throws -> [UInt8] {
            var all: [UInt8] = []
            for try await chunk in self {
                guard all.count + chunk.count <= limit else {
                    handle.abandon()
                    throw CurlError.transport(code: -1, message: "body larger than \(limit) bytes")
                }
                all += chunk
            }
            return all
        }

        /// Stops the transfer now; further reads end with `CurlError.cancelled`.
        public func cancel() {
            handle.abandon()
        }
    }
}

/// Keeps a transfer alive for its reader: when the last copy of a response goes away unread,
/// the transfer is removed from the reactor.
final class TransferHandle: Sendable {
    let buffer: BodyBuffer
    private let abandonTransfer: @Sendable () -> Void

    init(buffer: BodyBuffer, abandon: @escaping @Sendable () -> Void) {
        self.buffer = buffer
        self.abandonTransfer = abandon
    }

    func abandon() {
        buffer.finish(.cancelled)
        abandonTransfer()
    }

    deinit {
        abandon()
    }
}
