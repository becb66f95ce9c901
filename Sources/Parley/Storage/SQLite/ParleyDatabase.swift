import Foundation
import GRDB

/// The SQLite database: one `DatabasePool` in WAL mode, shared by every store.
///
/// Reads run concurrently on the pool's readers; writes are serialized on its writer in
/// `IMMEDIATE` transactions (GRDB's default), so a write never fails half-way with `SQLITE_BUSY`
/// after reading. Every access goes through GRDB's async API, which runs the SQLite call on
/// GRDB's own dispatch queues, never on a NIO event loop.
public struct ParleyDatabase: Sendable {
    public let writer: any DatabaseWriter

    /// SQLite checkpoints inside a commit only once the log holds this many pages (40 MiB of 4 KiB
    /// pages; its default is 1,000). `WALCheckpointer` keeps the log far shorter without stalling
    /// commits; this is the bound when it is not running (command-line tools, tests) or falls behind.
    static let backstopCheckpointPages = 10_000

    /// Opens (creating if needed) the database file and applies the pending migrations.
    ///
    /// - Parameters:
    ///   - url: the `.sqlite` file; its folder must exist.
    ///   - durability: `PRAGMA synchronous` of the writer, the one connection that commits.
    ///   - busyTimeout: how long a connection waits for a lock held by another process.
    /// - Throws: `DatabaseError` when the file cannot be opened or a migration fails; the server
    ///   must not start on a half-migrated schema.
    public static func open(at url: URL, durability: ParleyConfig.Durability, busyTimeout: Duration) throws -> ParleyDatabase {
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(busyTimeout.components.seconds))
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(backstopCheckpointPages)")
        }
        let pool = try DatabasePool(path: url.path, configuration: configuration)
        // Only the writer commits, so only its level counts. It is set here, once the pool is
        // built: GRDB sets the writer to NORMAL as it turns WAL on, after `prepareDatabase`.
        let synchronous = durability == .full ? "FULL" : "NORMAL"
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        let database = ParleyDatabase(writer: pool)
        try database.migrate()
        return database
    }

    /// Applies every embedded migration not yet recorded in `grdb_migrations`, each in its own
    /// transaction, in file-name order. Synchronous: called once at boot, before the server
    /// accepts connections.
    public func migrate() throws {
        try Self.migrator.migrate(writer)
    }

    /// The identifiers of the migrations this database has applied.
    public func appliedMigrations() throws -> [String] {
        try writer.read { db in try Self.migrator.appliedMigrations(db) }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in EmbeddedMigrations.all {
            migrator.registerMigration(migration.identifier) { db in
                try db.execute(sql: migration.sql)
            }
        }
        return migrator
    }

    /// Copies the database into the (empty or new) file at `destination` with SQLite's online
    /// backup, from a read snapshot: writers go on meanwhile.
    public func backup(to destination: URL) throws {
        let copy = try DatabaseQueue(path: destination.path)
        try writer.backup(to: copy)
        try copy.close()
    }

    /// For `/readyz`: a read that touches the file.
    public func isReachable() async -> Bool {
        (try? await writer.readPromptly { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations") }) != nil
    }
}
