import DequeModule
import Synchronization

/// The flow of body bytes between libcurl's write callback and the task reading the response,
/// as a pure state machine: every event returns what its caller must do, so the rules are
/// tested without a socket.
///
/// Backpressure: once `highWater` bytes wait unread, the producer is told to pause (libcurl then
/// keeps the bytes and offers them again later); once the reader has brought the backlog down to
/// `lowWater`, it is told to resume the transfer. Memory per transfer therefore stays near
/// `highWater` however slow the reader is.
struct BodyBufferState {
    enum OfferAction: Equatable {
        /// The bytes were taken (queued, or handed to the waiting reader).
        case accepted
        /// Return `CURL_WRITEFUNC_PAUSE`: the bytes were not taken.
        case pause
    }

    enum ReadAction: Equatable {
        case deliver([UInt8], resumeTransfer: Bool)
        case end
        case fail(CurlError)
        /// Nothing yet: park the reader (it will be handed the next bytes or the end), and
        /// resume the transfer first if it was paused.
        case wait(resumeTransfer: Bool)
    }

    let highWater: Int
    let lowWater: Int
    private(set) var chunks = Deque<[UInt8]>()
    private(set) var bufferedBytes = 0
    private(set) var isPaused = false
    private(set) var end: CurlError?? = nil
    /// A reader is parked waiting for bytes or the end.
    private(set) var readerWaiting = false

    init(highWater: Int, lowWater: Int) {
        precondition(lowWater < highWater)
        self.highWater = highWater
        self.lowWater = lowWater
    }

    /// The producer has `bytes`. When a reader is parked they go straight to it
    /// (`handedToReader`).
    mutating func offer(_ bytes: [UInt8]) -> (OfferAction, handedToReader: Bool) {
        guard end == nil else { return (.accepted, false) }
        if readerWaiting {
            readerWaiting = false
            return (.accepted, true)
        }
        if bufferedBytes >= highWater {
            isPaused = true
            return (.pause, false)
        }
        chunks.append(bytes)
        bufferedBytes += bytes.count
        return (.accepted, false)
    }

    /// The transfer ended; `error` is nil for a clean end. Returns whether a parked reader must
    /// be woken with the outcome.
    mutating func finish(_ error: CurlError?) -> Bool {
        guard end == nil else { return false }
        end = .some(error)
        defer { readerWaiting = false }
        return readerWaiting
    }

    mutating func read() -> ReadAction {
        if let chunk = chunks.popFirst() {
            bufferedBytes -= chunk.count
            let resume = isPaused && bufferedBytes <= lowWater
            if resume { isPaused = false }
            return .deliver(chunk, resumeTransfer: resume)
        }
        switch end {
        case .some(.none): return .end
        case .some(.some(let error)): return .fail(error)
        case .none:
            readerWaiting = true
            let resume = isPaused
            isPaused = false
            return .wait(resumeTransfer: resume)
        }
    }

    /// The reader gave up while parked. Returns whether it was parked.
    mutating func abandonRead() -> Bool {
        defer { readerWaiting = false }
        return readerWaiting
    }
}

/// `BodyBufferState` behind a lock, with the parked reader's continuation.
final class BodyBuffer: Sendable {
    private struct Locked {
        var state: BodyBufferState
        var reader: CheckedContinuation<[UInt8]?, any Error>?
    }

    private let locked: Mutex<Locked>
    private let resumeTransfer: @Sendable () -> Void

    init(highWater: Int, lowWater: Int, resumeTransfer: @escaping @Sendable () -> Void) {
        self.locked = Mutex(Locked(state: BodyBufferState(highWater: highWater, lowWater: lowWater)))
        self.resumeTransfer = resumeTransfer
    }

    /// Called on the reactor thread from the write callback.
    func offer(_ bytes: UnsafeRawBufferPointer) -> BodyBufferState.OfferAction {
        let copy = [UInt8](bytes)
        let (action, reader) = locked.withLock { locked -> (BodyBufferState.OfferAction, CheckedContinuation<[UInt8]?, any Error>?) in
            let (action, handed) = locked.state.offer(copy)
            guard handed else { return (action, nil) }
            defer { locked.reader = nil }
            return (action, locked.reader)
        }
        reader?.resume(returning: copy)
        return action
    }

    func finish(_ error: CurlError?) {
        let reader = locked.withLock { locked -> CheckedContinuation<[UInt8]?, any Error>? in
            guard locked.state.finish(error) else { return nil }
            defer { locked.reader = nil }
            return locked.reader
        }
        if let error { reader?.resume(throwing: error) } else { reader?.resume(returning: nil) }
    }

    /// The next chunk, or nil at the end of the body.
    ///
    /// - Throws: the transfer's `CurlError`, or `CancellationError` when the reading task is
    ///   cancelled (the caller then abandons the transfer).
    func next() async throws -> [UInt8]? {
        try Task.checkCancellation()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let action = locked.withLock { locked -> BodyBufferState.ReadAction in
                    let action = locked.state.read()
                    if case .wait = action {
                        // Checked under the lock that `onCancel` takes too, so a cancellation
                        // either sees this reader parked or is seen here.
                        guard !Task.isCancelled else {
                            _ = locked.state.abandonRead()
                            return .fail(.cancelled)
                        }
                        locked.reader = continuation
                    }
                    return action
                }
                switch action {
                case .deliver(let chunk, let resume):
                    if resume { resumeTransfer() }
                    continuation.resume(returning: chunk)
                case .end: continuation.resume(returning: nil)
                case .fail(.cancelled) where Task.isCancelled: continuation.resume(throwing: CancellationError())
                case .fail(let error): continuation.resume(throwing: error)
                case .wait(let resume):
                    if resume { resumeTransfer() }
                }
            }
        } onCancel: {
            let reader = locked.withLock { locked -> CheckedContinuation<[UInt8]?, any Error>? in
                guard locked.state.abandonRead() else { return nil }
                defer { locked.reader = nil }
                return locked.reader
            }
            reader?.resume(throwing: CancellationError())
        }
    }
}
