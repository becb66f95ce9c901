import GRDB

/// Commits many small writes in one transaction, so a burst of them costs one fsync, not one each.
///
/// A caller's write is durable when `write(_:)` returns: nothing is acknowledged before it is on
/// disk. Batching comes from concurrency alone, with no timer: while one transaction is being
/// committed, every write that arrives waits in `pending`, and the next transaction takes them
/// all. A single caller therefore pays one commit; a hundred concurrent callers pay about two.
///
/// Each write runs inside its own savepoint, so one failing write (a constraint violation, say)
/// is rolled back alone and reported to its caller while the rest of the batch commits.
package actor GroupCommitter {
    package typealias Write = @Sendable (Database) throws -> Void

    private let writer: any DatabaseWriter
    private let onCommit: @Sendable (Duration) -> Void
    private var pending: [(write: Write, done: CheckedContinuation<Void, any Error>)] = []
    private var isCommitting = false
    /// The largest batch committed so far; reported by tests and benchmarks.
    private(set) var largestBatch = 0

    package init(writer: any DatabaseWriter, onCommit: @escaping @Sendable (Duration) -> Void = { _ in }) {
        self.writer = writer
        self.onCommit = onCommit
    }

    /// Runs `write` in the next group transaction and returns once that transaction committed.
    ///
    /// When nothing is being committed, `write` leads: it is committed at once in the caller's own
    /// task, a hand-off fewer than passing it to a draining task (the hand-offs are what a lone
    /// write waits for, on a busy machine). Writes that arrive meanwhile wait and go together next.
    /// A leading write is cancelled with its caller's task, like any GRDB access: then it throws
    /// and nothing of it is stored.
    ///
    /// - Throws: what `write` threw, or the commit's error (then every write of the batch fails).
    package func write(_ write: @escaping Write) async throws {
        if isCommitting {
            try await withCheckedThrowingContinuation { continuation in pending.append((write, continuation)) }
            return
        }
        isCommitting = true
        let failure = await commit([write])[0]
        if pending.isEmpty {
            isCommitting = false
        } else {
            Task { await self.drain() }
        }
        if let failure { throw failure }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            for (entry, failure) in zip(batch, await commit(batch.map(\.write))) {
                if let failure {
                    entry.done.resume(throwing: failure)
                } else {
                    entry.done.resume()
                }
            }
        }
        isCommitting = false
    }

    /// Runs `writes` in one transaction, each in a savepoint of its own; returns each one's error.
    private func commit(_ writes: [Write]) async -> [(any Error)?] {
        largestBatch = max(largestBatch, writes.count)
        let started = ContinuousClock.now
        defer { onCommit(ContinuousClock.now - started) }
        do {
            return try await writer.write { db -> [(any Error)?] in
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
            }
        } catch {
            return writes.map { _ in error }
        }
    }
}
