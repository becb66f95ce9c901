import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// Copies the write-ahead log back into the database file away from the write path.
///
/// Left to itself, SQLite checkpoints inside the commit that takes the log past its threshold, so
/// the writer, and every write queued behind it, waits while pages are copied and the database
/// file is synced, and a new message's first token waits behind it. Here the pool's
/// automatic threshold is raised to a backstop (`ParleyDatabase.backstopCheckpointPages`) and this
/// service runs a `PASSIVE` checkpoint on a connection of its own, again and again. A passive
/// checkpoint never takes the write lock, so commits carry on while it works; frames still in a
/// reader's snapshot wait for the next round.
///
/// While the log grows, rounds are short (`CheckpointPace.busy`, 100 ms), because a round's cost
/// falls on the commits beside it: the more log it copies, the longer their syncs wait behind its
/// writes. Once a round
/// finds the log as it was, the next waits `CheckpointPace.idle` (500 ms), so an idle server does
/// not wake ten times a second for nothing.
///
/// Under steady writes the log still reaches the backstop: SQLite starts the log over only when a
/// write begins with every frame already copied, and a round always leaves the frames committed
/// while it ran; the writer's own checkpoint then has only the frames the rounds left behind to
/// copy, not the whole log.
package struct WALCheckpointer: Service {
    /// A connection used for nothing else, so a checkpoint never waits for the pool's writer.
    let connection: DatabaseQueue
    let pace: CheckpointPace
    let logger: Logger

    /// Opens the checkpointing connection to the database file at `path`.
    package init(path: String, pace: CheckpointPace = CheckpointPace(), logger: Logger) throws {
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

    package func run() async throws {
        await repeatUntilShutdown(
            afterFailure: pace.idle, logger: logger, level: .warning,
            failure: "WAL checkpoint failed; SQLite's backstop checkpoint still bounds the log"
        ) {
            try await round()
        }
    }

    /// One checkpoint, and the pause before the next.
    ///
    /// A passive checkpoint never waits: it gives up with `SQLITE_BUSY` when another connection
    /// holds the checkpoint lock. Under steady writes that is the pool's writer, checkpointing at
    /// the backstop (see above): while minting, one of the writer's checkpoints in four or five met
    /// a round, and each logged a warning an operator could do nothing about. A busy round is
    /// therefore tried again after `pace.busy`, and reported (thrown) only once
    /// `pace.toleratedBusyRounds` in a row have been busy: the lock is then being held for long,
    /// by another process's checkpoint or backup, say, and the log grows meanwhile.
    func round() async throws -> Duration {
        do {
            let logPages = try await checkpoint().logPages
            return pace.pause(afterLogPages: logPages)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            guard let pause = pace.pauseAfterBusyRound() else { throw error }
            return pause
        }
    }
}

/// How long the checkpointer waits between rounds: `busy` while the log changes from one round to
/// the next, `idle` once it stays the same.
package final class CheckpointPace: Sendable {
    let busy: Duration
    let idle: Duration
    /// Rounds in a row that may find SQLite busy before one is reported: two seconds' worth at
    /// the default pace.
    let toleratedBusyRounds: Int
    private let state = Mutex<(lastLogPages: Int?, busyRounds: Int)>((nil, 0))

    package init(busy: Duration = .milliseconds(100), idle: Duration = .milliseconds(500), toleratedBusyRounds: Int = 20) {
        self.busy = busy
        self.idle = idle
        self.toleratedBusyRounds = toleratedBusyRounds
    }

    /// The pause after a round that found the log `logPages` long.
    func pause(afterLogPages logPages: Int) -> Duration {
        state.withLock { state in
            defer { state = (logPages, 0) }
            return logPages == state.lastLogPages ? idle : busy
        }
    }

    /// The pause after a round that SQLite answered with `SQLITE_BUSY`, or nil when it is the
    /// `toleratedBusyRounds`-th such round in a row, which should be reported; the count then
    /// starts again, so a lock held for long is reported once every `toleratedBusyRounds`.
    func pauseAfterBusyRound() -> Duration? {
        state.withLock { state in
            state.busyRounds += 1
            guard state.busyRounds >= toleratedBusyRounds else { return busy }
            state.busyRounds = 0
            return nil
        }
    }
}
