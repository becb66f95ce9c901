import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// Copies the write-ahead log back into the database file away from the write path.
///
/// Left to itself, SQLite checkpoints inside the commit that takes the log past its threshold, so
/// the writer, and every write queued behind it, waits while pages are copied and the database
/// file is synced. With a thousand streaming replies saving their text every second that stall
/// was measured at 250–420 ms, and a new message's first token waited behind it. Here the pool's
/// automatic threshold is raised to a backstop (`ParleyDatabase.backstopCheckpointPages`) and this
/// service runs a `PASSIVE` checkpoint on a connection of its own, again and again. A passive
/// checkpoint never takes the write lock, so commits carry on while it works; frames still in a
/// reader's snapshot wait for the next round.
///
/// While the log grows, rounds are short (`CheckpointPace.busy`, 100 ms), because a round's cost
/// falls on the commits beside it: the more log it copies, the longer their syncs wait behind its
/// writes. Minting at about 9,000 tokens a second, p99 was 7.6–9.7 ms with 100 ms rounds against
/// 14–22 ms with 500 ms (six runs each, interleaved, 2026-12-02), at the same rate. Once a round
/// finds the log as it was, the next waits `CheckpointPace.idle` (500 ms), so an idle server does
/// not wake ten times a second for nothing.
struct WALCheckpointer: Service {
    /// A connection used for nothing else, so a checkpoint never waits for the pool's writer.
    let connection: DatabaseQueue
    let pace: CheckpointPace
    let logger: Logger

    /// Opens the checkpointing connection to the database file at `path`.
    init(path: String, pace: CheckpointPace = CheckpointPace(), logger: Logger) throws {
        var configuration = Configuration()
        configuration.label = "Parley.WALCheckpointer"
        self.connection = try DatabaseQueue(path: path, configuration: configuration)
        self.pace = pace
        self.logger = logger
    }

    /// One passive checkpoint. Returns the log's length and how much of it is now in the
    /// database file, in pages.
    @discardableResult
    func checkpoint() async throws -> (logPages: Int, copiedPages: Int) {
        try await connection.writeWithoutTransaction { db in
            let (log, copied) = try db.checkpoint(.passive)
            return (log, copied)
        }
    }

    func run() async throws {
        await repeatUntilShutdown(
            afterFailure: pace.idle, logger: logger, level: .warning,
            failure: "WAL checkpoint failed; SQLite's backstop checkpoint still bounds the log"
        ) { [pace] in
            let logPages = try await checkpoint().logPages
            return pace.pause(afterLogPages: logPages)
        }
    }
}

/// How long the checkpointer waits between rounds: `busy` while the log changes from one round to
/// the next, `idle` once it stays the same.
final class CheckpointPace: Sendable {
    let busy: Duration
    let idle: Duration
    private let lastLogPages = Mutex<Int?>(nil)

    init(busy: Duration = .milliseconds(100), idle: Duration = .milliseconds(500)) {
        self.busy = busy
        self.idle = idle
    }

    /// The pause after a round that found the log `logPages` long.
    func pause(afterLogPages logPages: Int) -> Duration {
        lastLogPages.withLock { last in
            defer { last = logPages }
            return logPages == last ? idle : busy
        }
    }
}
