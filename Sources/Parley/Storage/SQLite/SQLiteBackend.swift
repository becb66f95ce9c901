import Foundation
import Logging
import ServiceLifecycle

/// The embedded backend: one SQLite file in WAL mode (`ParleyDatabase`), its group committer for
/// the busiest writes, the row cache the configuration stores share, and the checkpointer that
/// keeps the log short while the server runs.
struct SQLiteBackend: StorageBackend {
    let database: ParleyDatabase
    let stores: Stores
    private let path: String

    /// Opens (and migrates) the database at `config.databaseURL`; `onCommit` sees every group
    /// commit's duration, for the metrics.
    static func open(_ config: ParleyConfig, onCommit: @escaping @Sendable (Duration) -> Void = { _ in }) throws -> SQLiteBackend {
        let database = try ParleyDatabase.open(at: config.databaseURL, durability: config.durability, busyTimeout: config.busyTimeout)
        let committer = GroupCommitter(writer: database.writer, onCommit: onCommit)
        return SQLiteBackend(database: database, stores: .sqlite(database, committer: committer), path: config.databaseURL.path)
    }

    func isReachable() async -> Bool { await database.isReachable() }

    func refusal(_ error: any Error) -> StorageHealth.Refusal? { SQLiteRefusal.classify(error) }

    func backgroundServices(logger: Logger) throws -> [any Service] {
        [try WALCheckpointer(path: path, logger: logger)]
    }
}
