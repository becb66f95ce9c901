import Foundation
import Logging

/// Runs replies, independently of the HTTP connections that asked for them, and keeps the
/// registry of those in flight.
///
/// It enforces the contract's rules at the moment a reply starts: one reply at a time per
/// conversation (409), a workspace's concurrent-reply limit and its daily output-token budget
/// (429). The budget is reserved before the provider is called (the bot's `max_output_tokens`)
/// and reconciled with the real figure afterwards, so concurrent replies cannot overspend it.
///
/// Fan-out stays behind `ReplyRun`: a deployment of several instances would replace this registry
/// with one that shares events between instances, without touching the routes.
actor GenerationHub: ReplyBroker {
    private let store: any ChatStore
    private let generator: ReplyGenerator
    private let clock: WallClock
    private let logger: Logger
    private let metrics: ParleyMetrics?
    /// How long a finished reply's events stay in memory for late resumes and repeats.
    private let retention: Duration

    private var runs: [String: ReplyRun] = [:]
    private var activeByConversation: [String: String] = [:]
    private var activeByWorkspace: [String: Int] = [:]
    private var reservedOutput: [String: Int] = [:]

    init(
        store: any ChatStore, generator: ReplyGenerator, clock: WallClock, logger: Logger, metrics: ParleyMetrics? = nil,
        retention: Duration = .seconds(120)
    ) {
        self.metrics = metrics
        self.store = store
        self.generator = generator
        self.clock = clock
        self.logger = logger
        self.retention = retention
    }

    typealias Post = ReplyPost

    /// Starts the reply to a new message, in the contract's order: the checks (the conversation and
    /// its bot, a repeat, the limits), then the durable commit of the message and its empty reply,
    /// and only then the generation, which reads the history and calls the provider.
    ///
    /// Nobody can follow the run before the commit succeeds (this returns only then); if it fails,
    /// nothing was asked of the provider and the claim and the allowance are given back.
    ///
    /// - Returns: the run to subscribe to. For a repeated `client_message_id` it is the same
    ///   reply's run (rebuilt from storage if it has left memory); the provider is not called.
    /// - Throws: 404 when the owner has no such conversation or its bot is gone; 409 `conflict`
    ///   while another reply of the conversation streams; 429 `rate_limited` past the user's
    ///   messages per minute or the workspace's concurrency or daily budget.
    func start(_ post: Post) async throws -> ReplyRun {
        guard
            let target = try await store.postTarget(
                conversationID: post.conversationID, owner: post.owner, clientMessageID: post.clientMessageID)
        else { throw ParleyError.notFound("No such conversation.") }
        if let earlier = target.earlierReply { return try await runForExisting(earlier) }
        guard let bot = target.bot else { throw ParleyError.notFound("The conversation's bot no longer exists.") }

        try post.allowance.spend()
        let reservation = bot.maxOutputTokens
        let draft = newDraft(post)
        let run: ReplyRun
        do {
            var used = 0
            if post.settings.dailyOutputTokenBudget != nil {
                used = try await store.outputTokens(workspaceID: post.owner.workspaceID, day: UsageDay.string(for: clock.nowMilliseconds))
            }
            // From the check to the claim nothing suspends, so a concurrent post sees this one's claim.
            try checkLimits(post, reservation: reservation, usedToday: used)
            run = claim(draft, reservation: reservation)
        } catch {
            post.allowance.giveBack()
            throw error
        }

        do {
            try await store.startReply(draft)
        } catch {
            release(run, reservation: reservation)
            post.allowance.giveBack()
            if let clientID = post.clientMessageID,
                let existing = try await store.reply(toClientMessageID: clientID, conversationID: post.conversationID)
            {
                return try await runForExisting(existing)  // an identical post stored first
            }
            throw error
        }
        runs[run.messageID] = run
        let (generator, pair) = (self.generator, draft.pair(botID: bot.id, model: bot.model))
        run.attach(
            Task.detached { [weak self] in
                await generator.generate(run: run, pair: pair, bot: bot)
                await self?.finished(run, reservation: reservation)
            })
        return run
    }

    /// Refuses a post while its conversation streams another reply (409), or when its workspace is
    /// at its concurrent-reply limit or would pass its daily output budget (429).
    private func checkLimits(_ post: Post, reservation: Int, usedToday: Int) throws {
        let workspaceID = post.owner.workspaceID
        if activeByConversation[post.conversationID] != nil {
            throw ParleyError.conflict("A reply is already being generated in this conversation.")
        }
        guard activeByWorkspace[workspaceID, default: 0] < post.settings.maxConcurrentReplies else {
            metrics?.rateLimited("concurrent_replies")
            throw ParleyError.rateLimited(retryAfter: 5)
        }
        if let budget = post.settings.dailyOutputTokenBudget, usedToday + reservedOutput[workspaceID, default: 0] + reservation > budget {
            logger.notice("daily output-token budget reached", metadata: ["parley.workspace_id": "\(workspaceID)"])
            metrics?.rateLimited("daily_output_budget")
            throw ParleyError.rateLimited(retryAfter: secondsUntilUTCMidnight())
        }
    }

    private func newDraft(_ post: Post) -> ReplyDraft {
        ReplyDraft(
            owner: post.owner, conversationID: post.conversationID, content: post.content, clientMessageID: post.clientMessageID,
            createdAt: clock.nowMilliseconds)
    }

    /// Takes the conversation and a share of the workspace's concurrency and budget for the reply.
    private func claim(_ draft: ReplyDraft, reservation: Int) -> ReplyRun {
        let workspaceID = draft.owner.workspaceID
        activeByConversation[draft.conversationID] = draft.replyID
        activeByWorkspace[workspaceID, default: 0] += 1
        reservedOutput[workspaceID, default: 0] += reservation
        return ReplyRun(messageID: draft.replyID, conversationID: draft.conversationID, workspaceID: workspaceID, userID: draft.owner.userID)
    }

    /// The run of `messageID` while it is in memory.
    func run(_ messageID: String) -> ReplyRun? {
        runs[messageID]
    }

    func follow(_ reply: MessageRecord, after: Int?) async throws -> ReplyFollow? {
        if let run = runs[reply.id] { return ReplyFollow(run: run, after: after) }
        guard let replyTo = reply.replyTo, let user = try await store.message(replyTo, conversationID: reply.conversationId) else {
            return nil
        }
        // Everything after `after` that storage still has, and always the terminal event.
        let replay = ReplyRun.replay(user: user, assistant: reply, after: after)
        return ReplyFollow(run: replay, after: min(max(after ?? 1, 1), (replay.terminalSeq ?? 2) - 1))
    }

    /// Stops a streaming reply. Returns false when it is not running here.
    func cancel(_ messageID: String) -> Bool {
        guard let run = runs[messageID], !run.isFinished else { return false }
        run.cancel()
        return true
    }

    var activeReplies: Int { activeByConversation.count }

    /// Replies in memory: running, or finished and kept for late resumes.
    var heldReplies: Int { max(runs.count, activeByConversation.count) }

    /// Waits for running replies to finish, up to `deadline`; then stops the rest, which end
    /// `interrupted` with their text so far stored. For graceful shutdown.
    ///
    /// - Returns: how many replies had to be stopped.
    func drain(deadline: Duration) async -> Int {
        let started = ContinuousClock.now
        while !activeByConversation.isEmpty, ContinuousClock.now - started < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let remaining = runs.values.filter { !$0.isFinished }
        for run in remaining { run.interrupt() }
        // Let the stopped replies store their outcome.
        let stopping = ContinuousClock.now
        while !activeByConversation.isEmpty, ContinuousClock.now - stopping < .seconds(5) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return remaining.count
    }

    /// Stops the reply streaming in `conversationID`, if any (before the conversation is deleted).
    func cancelReply(inConversation conversationID: String) {
        if let messageID = activeByConversation[conversationID] { _ = cancel(messageID) }
    }

    /// A repeat of a post already stored: its live run, or a finished one rebuilt from storage.
    private func runForExisting(_ pair: ReplyPair) async throws -> ReplyRun {
        if let run = runs[pair.assistant.id] { return run }
        let stored = try await store.message(pair.assistant.id, conversationID: pair.assistant.conversationId) ?? pair.assistant
        return ReplyRun.replay(user: pair.user, assistant: stored)
    }

    private func finished(_ run: ReplyRun, reservation: Int) async {
        release(run, reservation: reservation)
        try? await Task.sleep(for: retention)
        runs[run.messageID] = nil
    }

    private func release(_ run: ReplyRun, reservation: Int) {
        if activeByConversation[run.conversationID] == run.messageID { activeByConversation[run.conversationID] = nil }
        activeByWorkspace[run.workspaceID, default: 1] -= 1
        if activeByWorkspace[run.workspaceID] == 0 { activeByWorkspace[run.workspaceID] = nil }
        reservedOutput[run.workspaceID, default: reservation] -= reservation
        if reservedOutput[run.workspaceID] == 0 { reservedOutput[run.workspaceID] = nil }
    }

    private func secondsUntilUTCMidnight() -> Int {
        let seconds = Int(clock.now.timeIntervalSince1970)
        return 86_400 - seconds % 86_400
    }
}

/// A new message, as the route received it.
struct ReplyPost: Sendable {
    var owner: ConversationOwner
    var conversationID: String
    var content: String
    var clientMessageID: String?
    var settings: WorkspaceSettings
    var allowance: MessageAllowance
}

extension ReplyRun {
    /// A finished reply rebuilt from storage, for a repeat or resume after its live events have
    /// left memory: the user message (seq 0), the start (seq 1), and the terminal event.
    ///
    /// The terminal event keeps the seq its live followers were sent (`terminalSeq`). A reply that
    /// never sent one (left streaming by a crash) numbers it past `after`, the last seq the
    /// resuming client holds, so the client's sequence goes on and its resume ends with the outcome.
    static func replay(user: MessageRecord, assistant: MessageRecord, after: Int? = nil) -> ReplyRun {
        let run = ReplyRun(messageID: assistant.id, conversationID: assistant.conversationId, workspaceID: assistant.workspaceId, userID: assistant.userId)
        run.append(.userMessage, ReplyPayload.UserMessage(message: MessageView(record: user)))
        run.append(
            .started, ReplyPayload.Started(messageID: assistant.id, conversationID: assistant.conversationId, model: assistant.model ?? ""))
        run.appendTerminal(for: assistant, seq: assistant.terminalSeq ?? max(2, (after ?? 1) + 1))
        return run
    }

    /// `response.completed` for complete and cancelled replies, `response.error` otherwise.
    func appendTerminal(for message: MessageRecord, seq: Int? = nil) {
        switch message.status {
        case .complete, .cancelled:
            append(.completed, ReplyPayload.Completed(message: MessageView(record: message)), seq: seq)
        default:
            let code = message.errorCode ?? "interrupted"
            append(
                .error,
                ReplyPayload.Failed(
                    messageID: message.id, error: .init(code: code, message: ReplyGenerator.explanation(of: code)),
                    message: MessageView(record: message)), seq: seq)
        }
    }

    /// `response.error` with `unavailable` for an outcome storage refused: the text so far, and
    /// the status a restart would leave the row in.
    func appendUnstored(_ message: MessageRecord) {
        var shown = message
        shown.status = .interrupted
        shown.errorCode = "unavailable"
        appendTerminal(for: shown)
    }

    /// The seq of the terminal event, once there is one.
    var terminalSeq: Int? { isFinished ? nextSeq - 1 : nil }
}
