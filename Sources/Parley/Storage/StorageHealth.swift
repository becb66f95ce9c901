import Foundation
import GRDB
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
    private let lastFull = Mutex<ContinuousClock.Instant?>(nil)

    init(window: Duration = .seconds(30)) {
        self.window = window
    }

    /// The refusal `error` stands for, if it is storage saying "not now" rather than a bug.
    static func refusal(of error: any Error) -> Refusal? {
        guard let error = error as? DatabaseError else { return nil }
        switch error.resultCode {
        case .SQLITE_FULL: return .full
        case .SQLITE_BUSY, .SQLITE_LOCKED: return .busy
        default: return nil
        }
    }

    /// Notes a failed write; returns its refusal, if it is one.
    @discardableResult
    func record(_ error: any Error) -> Refusal? {
        let refusal = Self.refusal(of: error)
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
