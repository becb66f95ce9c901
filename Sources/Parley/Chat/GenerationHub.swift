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
actor GenerationHub {
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

    struct Start: Sendable {
        /// Read by the route in one go (`ChatStore.replyContext`), so starting costs no other read.
        var context: ReplyContext
        var bot: BotRecord
        var settings: WorkspaceSettings
        var content: String
        var clientMessageID: String?
    }

    /// Stores the user message durably and starts generating the reply.
    ///
    /// The two overlap: the provider is asked while the commit is on its way to disk, so the
    /// commit adds nothing to the time to first token. Nobody can follow the run before the
    /// commit succeeds (this returns only then), and if it fails the generation is cancelled
    /// and stores nothing.
    ///
    /// - Returns: the run to subscribe to. For a repeated `client_message_id` it is the same
    ///   reply's run (rebuilt from storage if it has left memory); the provider is not called.
    /// - Throws: 409 `conflict` while another reply of the conversation streams; 429
    ///   `rate_limited` past the workspace's concurrency or daily budget.
    func start(_ request: Start) async throws -> ReplyRun {
        let conversation = request.context.conversation
        let conversationID = conversation.id
        if let existing = request.context.earlierReply {
            return try await runForExisting(existing)
        }
        if activeByConversation[conversationID] != nil {
            throw ParleyError.conflict("A reply is already being generated in this conversation.")
        }
        let workspaceID = conversation.workspaceId
        guard activeByWorkspace[workspaceID, default: 0] < request.settings.maxConcurrentReplies else {
            metrics?.rateLimited("concurrent_replies")
            throw ParleyError.rateLimited(retryAfter: 5)
        }
        let reservation = request.bot.maxOutputTokens
        if let budget = request.settings.dailyOutputTokenBudget {
            let used = try await store.outputTokens(workspaceID: workspaceID, day: UsageDay.string(for: clock.nowMilliseconds))
            guard used + reservedOutput[workspaceID, default: 0] + reservation <= budget else {
                logger.notice("daily output-token budget reached", metadata: ["parley.workspace_id": "\(workspaceID)"])
                metrics?.rateLimited("daily_output_budget")
                throw ParleyError.rateLimited(retryAfter: secondsUntilUTCMidnight())
            }
        }
        // Claim the conversation before the first suspension, so a concurrent post sees it.
        let pair = newPair(request)
        activeByConversation[conversationID] = pair.assistant.id
        activeByWorkspace[workspaceID, default: 0] += 1
        reservedOutput[workspaceID, default: 0] += reservation
        let run = ReplyRun(messageID: pair.assistant.id, conversationID: conversationID, workspaceID: workspaceID, userID: pair.user.userId)
        let store = self.store
        let stored = Task.detached { try await store.startReply(pair) }
        let generator = self.generator
        let bot = request.bot
        let history = request.context.history
        let task = Task.detached { [weak self] in
            if await generator.generate(run: run, pair: pair, bot: bot, history: history, stored: stored) {
                await self?.finished(run, reservation: reservation)
            }
        }
        run.attach(task)
        do {
            try await stored.value
        } catch {
            task.cancel()
            release(run, reservation: reservation)
            if let clientID = request.clientMessageID,
                let existing = try await store.reply(toClientMessageID: clientID, conversationID: conversationID)
            {
                // Two identical posts raced; the other one stored first, and this one's provider
                // call (already on its way) was just dropped.
                return try await runForExisting(existing)
            }
            throw error
        }
        runs[run.messageID] = run
        return run
    }

    /// The run of `messageID` while it is in memory.
    func run(_ messageID: String) -> ReplyRun? {
        runs[messageID]
    }

    /// Stops a streaming reply. Returns false when it is not running here.
    func cancel(_ messageID: String) -> Bool {
        guard let run = runs[messageID], !run.isFinished else { return false }
        run.cancel()
        return true
    }

    var activeReplies: Int { activeByConversation.count }

    /// How many earlier messages a reply's history may hold; what `Start.context` should read.
    nonisolated var historyLimit: Int { generator.historyLimit }

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

    private func newPair(_ request: Start) -> ReplyPair {
        let now = clock.nowMilliseconds
        let conversation = request.context.conversation
        let user = MessageRecord(
            id: RandomToken.id("msg_"), conversationId: conversation.id, workspaceId: conversation.workspaceId,
            userId: conversation.userId, botId: request.bot.id, role: .user, content: request.content, status: nil,
            finishReason: nil, errorCode: nil, model: nil, inputTokens: nil, outputTokens: nil,
            clientMessageId: request.clientMessageID, replyTo: nil, createdAt: now, updatedAt: now)
        var assistant = user
        assistant.id = RandomToken.id("msg_")
        assistant.role = .assistant
        assistant.content = ""
        assistant.status = .streaming
        assistant.model = request.bot.model
        assistant.clientMessageId = nil
        assistant.replyTo = user.id
        return ReplyPair(user: user, assistant: assistant)
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

extension ReplyRun {
    /// A finished reply rebuilt from storage, for a repeat or resume after its live events have
    /// left memory: the user message, the start, and the terminal event.
    static func replay(user: MessageRecord, assistant: MessageRecord) -> ReplyRun {
        let run = ReplyRun(messageID: assistant.id, conversationID: assistant.conversationId, workspaceID: assistant.workspaceId, userID: assistant.userId)
        run.append(.userMessage, ReplyPayload.UserMessage(message: MessageView(record: user)))
        run.append(
            .started, ReplyPayload.Started(messageID: assistant.id, conversationID: assistant.conversationId, model: assistant.model ?? ""))
        run.appendTerminal(for: assistant)
        return run
    }

    /// `response.completed` for complete and cancelled replies, `response.error` otherwise.
    func appendTerminal(for message: MessageRecord) {
        switch message.status {
        case .complete, .cancelled:
            append(.completed, ReplyPayload.Completed(message: MessageView(record: message)))
        default:
            let code = message.errorCode ?? "interrupted"
            append(
                .error,
                ReplyPayload.Failed(
                    messageID: message.id, error: .init(code: code, message: ReplyGenerator.explanation(of: code)),
                    message: MessageView(record: message)))
        }
    }
}
