import Synchronization

/// An async HTTP client on libcurl's multi interface: one reactor thread drives every transfer.
///
/// `execute` returns once the response head has arrived; the body follows as an `AsyncSequence`
/// of byte chunks with backpressure (a reader that falls behind pauses its transfer). Cancelling
/// the calling task, or dropping the response, aborts the transfer and closes its connection.
/// Redirects are never followed, TLS is always verified, and connections are reused between
/// transfers to the same host.
///
/// ```swift
/// let client = CurlClient()
/// let response = try await client.execute(CurlRequest(url: "https://api.example.com/v1/stream"))
/// for try await chunk in response.body { handle(chunk) }
/// ```
public final class CurlClient: Sendable {
    public struct Configuration: Sendable {
        /// Unread bytes per transfer at which it is paused.
        public var highWaterBytes: Int
        /// Unread bytes per transfer at which a paused transfer resumes.
        public var lowWaterBytes: Int

        public init(highWaterBytes: Int = 256 * 1024, lowWaterBytes: Int = 64 * 1024) {
            self.highWaterBytes = highWaterBytes
            self.lowWaterBytes = lowWaterBytes
        }
    }

    private let reactor: Reactor
    private let configuration: Configuration
    private let nextID = Atomic<UInt64>(1)

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.reactor = Reactor()
    }

    /// Sends `request` and waits for the response head.
    ///
    /// - Throws: `CurlError` when no response head arrives (connect failure, timeouts,
    ///   shutdown), `CancellationError` when the calling task is cancelled first.
    public func execute(_ request: CurlRequest) async throws -> CurlResponse {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let reactor = self.reactor
        let buffer = BodyBuffer(
            highWater: configuration.highWaterBytes, lowWater: configuration.lowWaterBytes,
            resumeTransfer: { reactor.submit(.resume(id)) })
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard
                    let transfer = Transfer(
                        id: id, request: request, buffer: buffer, head: continuation,
                        makeHandle: { buffer in TransferHandle(buffer: buffer) { reactor.submit(.cancel(id)) } })
                else {
                    continuation.resume(throwing: CurlError.transport(code: -1, message: "curl_easy_init failed"))
                    return
                }
                if !reactor.submit(.start(transfer)) {
                    transfer.finish(.shutdown)
                    transfer.release()
                }
            }
        } onCancel: {
            reactor.submit(.cancel(id))
        }
    }

    /// Transfers in flight (approximate while they start and end).
    public var openTransfers: Int { reactor.openTransfers.load(ordering: .relaxed) }

    /// Fails every open transfer with `CurlError.shutdown` and stops the reactor thread.
    public func shutdown() {
        reactor.shutdown()
    }
}
