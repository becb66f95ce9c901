import Logging
import ServiceLifecycle
import Synchronization

/// Saves the text of every streaming reply at most `interval` after it arrived, even while a
/// provider is silent, so a crash loses at most that much of any reply.
///
/// One service does it for all replies, in one transaction per round: a thousand streams cost one
/// write a second, not a thousand, and no reply keeps a task of its own asleep for this.
///
/// A reply is tracked from its first text (once its start is stored) until its provider stream
/// ends; a round that runs after the reply's final save changes nothing (`ChatStore.flushReplies`
/// writes only to replies still `streaming`).
final class ReplyTextFlusher: Service, Sendable {
    private let store: any ChatStore
    private let clock: WallClock
    private let interval: Duration
    private let logger: Logger
    private let replies = Mutex<[String: ReplyText]>([:])
    private let storageHealth: StorageHealth

    init(store: any ChatStore, clock: WallClock, interval: Duration, logger: Logger, storageHealth: StorageHealth = StorageHealth()) {
        self.storageHealth = storageHealth
        self.store = store
        self.clock = clock
        self.interval = interval
        self.logger = logger
    }

    /// Saves `text` as reply `messageID`'s content every round in which it changed.
    func track(_ text: ReplyText, messageID: String) {
        replies.withLock { $0[messageID] = text }
    }

    func forget(messageID: String) {
        replies.withLock { _ = $0.removeValue(forKey: messageID) }
    }

    /// One round: every tracked text that changed since the last round, in one transaction.
    func flushChanged() async throws {
        let changed = replies.withLock { replies in
            replies.compactMap { messageID, text in text.takeIfChanged().map { (messageID: messageID, content: $0) } }
        }
        guard !changed.isEmpty else { return }
        do {
            try await store.flushReplies(changed, at: clock.nowMilliseconds)
        } catch {
            storageHealth.record(error)
            throw error
        }
    }

    func run() async throws {
        await repeatUntilShutdown(
            every: interval, logger: logger, level: .warning, failure: "saving streaming replies failed; their final text is still saved when they end"
        ) {
            try await self.flushChanged()
        }
    }
}
