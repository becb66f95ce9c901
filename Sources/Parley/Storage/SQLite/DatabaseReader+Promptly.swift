import GRDB

extension DatabaseReader {
    /// Runs a read-only transaction and hands its result to the awaiting task; the connection goes
    /// back to the pool as soon as `value` returns.
    ///
    /// GRDB's `async` `read` gives the connection back from the reading task, once that task has
    /// had a thread again; when many requests arrive together the connection waits behind all of
    /// them. Here the read, from taking a connection to giving it back, runs on the connection's
    /// own queue, and only the result waits for the task. Every store reads through this.
    ///
    /// A read already queued is not interrupted when its task is cancelled; reads are short.
    func readPromptly<T: Sendable>(_ value: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            asyncRead { database in
                continuation.resume(with: Result { try value(database.get()) })
            }
        }
    }
}
