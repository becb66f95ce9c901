import GRDB
import Synchronization

/// Commits many small writes in one transaction, so a burst of them costs one fsync, not one each.
///
/// A caller's write is durable when `write(_:)` returns: nothing is acknowledged before it is on
/// disk. Batching comes from concurrency alone, with no timer: while one transaction is being
/// committed, every write that arrives waits in `pending`, and the next transaction takes them
/// all. A single caller therefore pays one commit; a hundred concurrent callers pay about two.
///
/// Each write runs inside its own savepoint, so one failing write (a constraint violation, say)
/// is rolled back alone and reported to its caller while the rest of the batch commits.
///
/// The batches run on the writer's own queue, one after another, and the waiting callers are
/// resumed from there: no actor or task sits between a caller and the writer, so a write costs
/// one thread switch each way, which is most of its time on an idle server.
final class GroupCommitter: Sendable {
    typealias Write = @Sendable (Database) throws -> Void

    private typealias Pending = (write: Write, done: CheckedContinuation<Void, any Error>)

    private struct State {
        var pending: [Pending] = []
        var isCommitting = false
        var largestBatch = 0

        /// Takes every pending write for the next transaction.
        mutating func nextBatch() -> [Pending] {
            defer { pending.removeAll(keepingCapacity: true) }
            largestBatch = max(largestBatch, pending.count)
            return pending
        }
    }

    private let writer: any DatabaseWriter
    private let onCommit: @Sendable (Duration) -> Void
    private let state = Mutex(State())

    init(writer: any DatabaseWriter, onCommit: @escaping @Sendable (Duration) -> Void = { _ in }) {
        self.writer = writer
        self.onCommit = onCommit
    }

    /// The largest batch committed so far; reported by tests and benchmarks.
    var largestBatch: Int { state.withLock { $0.largestBatch } }

    /// Runs `write` in the next group transaction and returns once that transaction committed.
    ///
    /// - Throws: what `write` threw, or the commit's error (then every write of the batch fails).
    func write(_ write: @escaping Write) async throws {
        try await withCheckedThrowingContinuation { continuation in
            let batch = state.withLock { state -> [Pending]? in
                state.pending.append((write, continuation))
                guard !state.isCommitting else { return nil }
                state.isCommitting = true
                return state.nextBatch()
            }
            if let batch { commit(batch) }
        }
    }

    /// Queues `batch` on the writer; when it is done, the writes that arrived meanwhile go next.
    private func commit(_ batch: [Pending]) {
        let writes = batch.map(\.write)
        let started = ContinuousClock.now
        writer.asyncWrite(
            { db -> [(any Error)?] in
                writes.map { write in
                    do {
                        try db.inSavepoint {
                            try write(db)
                            return .commit
                        }
                        return nil
                    } catch {
                        return error
                    }
                }
            },
            completion: { [self] _, result in
                onCommit(ContinuousClock.now - started)
                switch result {
                case .success(let outcomes):
                    for (entry, failure) in zip(batch, outcomes) {
                        if let failure { entry.done.resume(throwing: failure) } else { entry.done.resume() }
                    }
                case .failure(let error):
                    for entry in batch { entry.done.resume(throwing: error) }
                }
                let next = state.withLock { state -> [Pending]? in
                    guard !state.pending.isEmpty else {
                        state.isCommitting = false
                        return nil
                    }
                    return state.nextBatch()
                }
                if let next { commit(next) }
            })
    }
}
