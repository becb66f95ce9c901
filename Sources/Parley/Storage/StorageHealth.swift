import Foundation
import Synchronization

/// What the server has lately learned about its storage's ability to write, for `/readyz` and for
/// the error a client is shown.
///
/// A refused write for lack of space marks the storage full; a later write that succeeds, or
/// `window` without another refusal, clears it. Readiness then says "full" while it is true, so a
/// load balancer sends new chats elsewhere, and comes back on its own once space is freed (a
/// reply waiting to store its outcome retries meanwhile and keeps the mark fresh while it fails).
final class StorageHealth: Sendable {
    /// Why storage refused a request, as a client is told (503 `unavailable`).
    enum Refusal: Sendable, Equatable {
        case busy
        case full
    }

    private let window: Duration
    private let classify: @Sendable (any Error) -> Refusal?
    private let lastFull = Mutex<ContinuousClock.Instant?>(nil)

    /// - Parameter classify: which errors of the storage backend are refusals (busy, full)
    ///   rather than bugs (`StorageBackend.refusal`); by default none are.
    init(window: Duration = .seconds(30), classify: @escaping @Sendable (any Error) -> Refusal? = { _ in nil }) {
        self.window = window
        self.classify = classify
    }

    /// Notes a failed write; returns its refusal, if it is one.
    @discardableResult
    func record(_ error: any Error) -> Refusal? {
        let refusal = classify(error)
        if refusal == .full { lastFull.withLock { $0 = .now } }
        return refusal
    }

    /// Notes a write that was stored.
    func recordWrite() {
        lastFull.withLock { $0 = nil }
    }

    /// Whether a write was refused for lack of space within `window`, with none stored since.
    var isFull: Bool {
        lastFull.withLock { last in last.map { ContinuousClock.now - $0 < window } ?? false }
    }
}
