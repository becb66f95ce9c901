import Foundation
import Synchronization

/// The events of one reply while it is generated, and everyone following it.
///
/// Events are kept in order in memory, so a subscriber that joins late (another tab, a
/// reconnect with `Last-Event-ID`) gets every event after the one it names exactly once, then
/// the live ones. Appending and subscribing take the same lock, so no event can fall between a
/// subscriber's replay and its live feed.
final class ReplyRun: Sendable {
    let messageID: String
    let conversationID: String
    let workspaceID: String
    let userID: String

    /// Where a follower's events go. Both are called under the run's lock, in order, so they
    /// must only hand the event on (yield it to a stream, say).
    struct Subscriber: Sendable {
        var deliver: @Sendable (ReplyEvent) -> Void
        /// Called once, after the terminal event was delivered.
        var finish: @Sendable () -> Void
    }

    private struct State {
        var events: [ReplyEvent] = []
        var subscribers: [UUID: Subscriber] = [:]
        var isFinished = false
        var cancelRequested = false
        var task: Task<Void, Never>?
    }

    private let state = Mutex(State())

    init(messageID: String, conversationID: String, workspaceID: String, userID: String) {
        self.messageID = messageID
        self.conversationID = conversationID
        self.workspaceID = workspaceID
        self.userID = userID
    }

    var isFinished: Bool { state.withLock { $0.isFinished } }
    var cancelRequested: Bool { state.withLock { $0.cancelRequested } }

    /// The seq the next event will have. Only the generating task appends, so it can learn the
    /// terminal event's seq before storing it.
    var nextSeq: Int { state.withLock { state in state.events.last.map { $0.seq + 1 } ?? 0 } }

    /// Appends the next event and hands it to every subscriber; a terminal event ends them all.
    ///
    /// - Parameter seq: the event's seq when it is not the next one: a run rebuilt from storage
    ///   numbers its terminal event as the live run did.
    func append(_ name: ReplyEvent.Name, _ payload: some ReplyEventPayload, seq: Int? = nil) {
        append(seq: seq) { seq in ReplyEvent(messageID: messageID, seq: seq, name: name, payload: payload) }
    }

    /// Appends a `response.delta` of `text` (the hot path: no `JSONEncoder`).
    func appendDelta(_ text: String) {
        append(seq: nil) { seq in ReplyEvent.delta(text, messageID: messageID, seq: seq) }
    }

    private func append(seq explicit: Int?, _ makeEvent: (_ seq: Int) -> ReplyEvent) {
        let ended = state.withLock { state -> [Subscriber] in
            guard !state.isFinished else { return [] }
            let next = state.events.last.map { $0.seq + 1 } ?? 0
            let event = makeEvent(max(next, explicit ?? next))
            state.events.append(event)
            for subscriber in state.subscribers.values { subscriber.deliver(event) }
            guard event.isTerminal else { return [] }
            state.isFinished = true
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        // A finish handler may come back to the run (to unsubscribe, say): call it unlocked.
        for subscriber in ended { subscriber.finish() }
    }

    /// Hands `subscriber` every event after `seq` (all of them for `nil`), then the live ones
    /// until the terminal event, then calls its `finish`.
    ///
    /// Events go straight from `append` to the subscriber, with no task in between: a streaming
    /// reply relays tens of thousands of deltas a second, and each hop through a task is work.
    ///
    /// - Returns: the call that stops the deliveries (when the follower goes away first).
    func subscribe(after seq: Int?, _ subscriber: Subscriber) -> @Sendable () -> Void {
        let id = UUID()
        let finished = state.withLock { state in
            // A live run's seqs are its indices; a rebuilt one's may skip (the deltas storage
            // does not keep), so step back to the first event after `seq`.
            let after = seq ?? -1
            var start = min(max(0, after + 1), state.events.count)
            while start > 0, state.events[start - 1].seq > after { start -= 1 }
            if start < state.events.count {
                for event in state.events[start...] { subscriber.deliver(event) }
            }
            if !state.isFinished { state.subscribers[id] = subscriber }
            return state.isFinished
        }
        if finished { subscriber.finish() }
        return { [weak self] in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
    }

    /// The task generating this reply, so `cancel()` can stop it.
    func attach(_ task: Task<Void, Never>) {
        state.withLock { $0.task = task }
    }

    /// Stops the generating task without a user's request (shutdown); the reply ends
    /// `interrupted`.
    func interrupt() {
        let task = state.withLock { state -> Task<Void, Never>? in state.isFinished ? nil : state.task }
        task?.cancel()
    }

    /// Asks the generating task to stop; the reply then ends `cancelled`.
    func cancel() {
        let task = state.withLock { state -> Task<Void, Never>? in
            guard !state.isFinished else { return nil }
            state.cancelRequested = true
            return state.task
        }
        task?.cancel()
    }
}
