import Foundation
import GRDB
import Synchronization

/// In-memory copies of the rows read on nearly every request and written rarely: workspaces
/// (every embed-token check, every mint), bots (every mint, every message), workspace API keys
/// (every mint) and issued embed tokens (every chat request checks its token is still on record
/// and not revoked).
///
/// Reading them from SQLite costs a trip to a reader thread and back plus row decoding, and a
/// queue for the reader pool under load. Rows are
/// kept for `freshness` at most, and every write that can change or remove one of them (the
/// workspace and bot stores, API key revocation and use, token revocation, erasing a user)
/// empties the cache before it returns, so this process never serves a row older than its own
/// last write: a revoked token is refused by the very next request. Another process writing the same database (a second
/// instance, an operator's command) is seen within `freshness`. Rows that were not found are
/// never kept, so a token issued a moment ago is found at once.
///
/// A read that began before an invalidation does not store what it read: each invalidation
/// bumps a generation, and a loaded row is kept only if the generation has not moved.
final class ConfigurationRowCache: Sendable {
    struct BotKey: Hashable, Sendable {
        var workspaceID: String
        var botID: String
    }

    let freshness: Duration
    private let generation = Atomic<Int>(0)
    private let workspaces: Table<String, WorkspaceRecord>
    private let bots: Table<BotKey, BotRecord>
    private let tokens: Table<String, EmbedTokenRecord>
    private let apiKeys: Table<Data, APIKeyRecord>

    /// - Parameter capacity: past this many rows of a kind the cache starts over, so memory
    ///   stays bounded whatever the number of workspaces.
    init(freshness: Duration = .seconds(1), capacity: Int = 10_000) {
        self.freshness = freshness
        workspaces = Table(capacity: capacity)
        bots = Table(capacity: capacity)
        tokens = Table(capacity: capacity)
        apiKeys = Table(capacity: capacity)
    }

    func workspace(_ id: String, load: () async throws -> WorkspaceRecord?) async throws -> WorkspaceRecord? {
        try await row(id, in: workspaces, load: load)
    }

    func bot(_ key: BotKey, load: () async throws -> BotRecord?) async throws -> BotRecord? {
        try await row(key, in: bots, load: load)
    }

    func token(jti: String, load: () async throws -> EmbedTokenRecord?) async throws -> EmbedTokenRecord? {
        try await row(jti, in: tokens, load: load)
    }

    func apiKey(secretHash: Data, load: () async throws -> APIKeyRecord?) async throws -> APIKeyRecord? {
        try await row(secretHash, in: apiKeys, load: load)
    }

    /// An issued token's row and its workspace's, which every chat request checks. They are kept
    /// for the same time, so they usually leave memory together; `load` then reads both in one
    /// trip to SQLite instead of two.
    func token(
        jti: String, workspaceID: String, load: () async throws -> (EmbedTokenRecord?, WorkspaceRecord?)
    ) async throws -> (EmbedTokenRecord?, WorkspaceRecord?) {
        let now = ContinuousClock.now
        let startedAt = generation.load(ordering: .sequentiallyConsistent)
        if let token = fresh(tokens.entry(jti), at: now), let workspace = fresh(workspaces.entry(workspaceID), at: now) {
            return (token, workspace)
        }
        let (token, workspace) = try await load()
        if let token { tokens.store(token, for: jti, loadedAt: now) { noWriteSince(startedAt) } }
        if let workspace { workspaces.store(workspace, for: workspaceID, loadedAt: now) { noWriteSince(startedAt) } }
        return (token, workspace)
    }

    /// Runs a write and forgets every cached row once it is done, whether it committed or not (a
    /// bot write can change its workspace's default bot, so everything goes). Every write that
    /// updates or deletes workspaces, bots, API keys or issued tokens goes through here.
    func write<T: Sendable>(through writer: any DatabaseWriter, _ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        defer { invalidateAll() }
        return try await writer.write(updates)
    }

    /// Forgets every row.
    func invalidateAll() {
        // Bump first, then clear: a load that stored before the clear is cleared, one that
        // checks after the bump is refused.
        generation.add(1, ordering: .sequentiallyConsistent)
        workspaces.removeAll()
        bots.removeAll()
        tokens.removeAll()
        apiKeys.removeAll()
    }

    private func row<Key, Row>(_ key: Key, in table: Table<Key, Row>, load: () async throws -> Row?) async throws -> Row? {
        let now = ContinuousClock.now
        let startedAt = generation.load(ordering: .sequentiallyConsistent)
        if let cached = fresh(table.entry(key), at: now) { return cached }
        guard let row = try await load() else { return nil }
        table.store(row, for: key, loadedAt: now) { noWriteSince(startedAt) }
        return row
    }

    /// No invalidation has happened since the generation was `startedAt`.
    private func noWriteSince(_ startedAt: Int) -> Bool {
        generation.load(ordering: .sequentiallyConsistent) == startedAt
    }

    private func fresh<Row>(_ entry: Table<some Hashable & Sendable, Row>.Entry?, at now: ContinuousClock.Instant) -> Row? {
        guard let entry, now - entry.loadedAt < freshness else { return nil }
        return entry.row
    }

    /// One kind of row, under its own lock.
    private final class Table<Key: Hashable & Sendable, Row: Sendable>: Sendable {
        struct Entry: Sendable {
            var row: Row
            var loadedAt: ContinuousClock.Instant
        }

        private let entries = Mutex<[Key: Entry]>([:])
        private let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
        }

        func entry(_ key: Key) -> Entry? {
            entries.withLock { $0[key] }
        }

        /// Stores `row` if `stillCurrent()` holds, checked under the lock.
        func store(_ row: Row, for key: Key, loadedAt: ContinuousClock.Instant, if stillCurrent: () -> Bool) {
            entries.withLock { entries in
                guard stillCurrent() else { return }
                if entries.count >= capacity { entries.removeAll() }
                entries[key] = Entry(row: row, loadedAt: loadedAt)
            }
        }

        func removeAll() {
            entries.withLock { $0.removeAll() }
        }
    }
}
