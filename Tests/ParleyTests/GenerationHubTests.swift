import Crypto
import CurlStream
import Foundation
import GRDB
import Logging
import Testing
import TestUpstream

@testable import Parley

/// The hub's start, on the real SQLite store, with the post's commit held as long as the test likes.
@Suite struct GenerationHubTests {
    /// The contract's order: the message is stored durably before anything else. While the commit
    /// is held, the provider has not been asked and nobody has a run to follow; once it lands the
    /// reply is generated with the message sent once, as the newest.
    @Test func theProviderIsAskedOnlyOnceThePostIsStored() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["fresh"]) }
        try await upstream.run { base in
            try await ReplyFixture.withConversation(providerBase: base) { sqlite in
                let store = HeldCommitStore(base: sqlite)
                let hub = GenerationHub(store: store, generator: ReplyFixture.generator(store: store), clock: .system, logger: Logger(label: "test"))
                let owner = ConversationOwner(workspaceID: "ws_1", userID: "u-1", botID: "bot_1")

                let starting = Task {
                    try await hub.start(
                        .init(
                            owner: owner, conversationID: "conv_1", content: "hello", clientMessageID: "c-1", settings: WorkspaceSettings(),
                            allowance: MessageAllowance(
                                limiter: RateLimiter(clock: .system), key: "u-1", limit: .init(ratePerSecond: 1, burst: 5), metrics: nil)))
                }
                #expect(await eventually { await store.commits.waiting == 1 }, "the commit began")
                try await Task.sleep(for: .milliseconds(300))
                #expect(upstream.requests.isEmpty, "no provider call while the message is not stored")
                await store.commits.open()
                let run = try await starting.value
                let finished = await eventually {
                    (try? await store.message(run.messageID, conversationID: "conv_1"))?.status == .complete
                }
                #expect(finished)
                #expect(try await store.message(run.messageID, conversationID: "conv_1")?.content == "fresh")
                let sent = try #require(upstream.requests.first, "the provider was asked")
                let body = try #require(try JSONSerialization.jsonObject(with: Data(sent.body)) as? [String: Any])
                let messages = try #require(body["messages"] as? [[String: Any]])
                #expect(messages.compactMap { $0["content"] as? String } == ["hello"], "the message once, as the newest")
            }
        }
    }
}

/// The SQLite chat store, except that a post's commit waits until the test opens `commits`.
struct HeldCommitStore: ChatStore {
    let base: SQLiteChatStore
    let commits = Gate()

    func startReply(_ draft: ReplyDraft) async throws {
        await commits.wait()
        try await base.startReply(draft)
    }

    /// Opens once, and lets every waiter through from then on.
    actor Gate {
        private var isOpen = false
        private var waiters: [CheckedContinuation<Void, Never>] = []
        /// How many callers are waiting.
        var waiting: Int { waiters.count }

        func open() {
            isOpen = true
            for waiter in waiters { waiter.resume() }
            waiters.removeAll()
        }

        func wait() async {
            if !isOpen { await withCheckedContinuation { waiters.append($0) } }
        }
    }

    // The rest goes straight to the SQLite store.

    func createConversation(_ conversation: ConversationRecord) async throws -> ConversationRecord {
        try await base.createConversation(conversation)
    }
    func conversation(_ id: String, owner: ConversationOwner) async throws -> ConversationRecord? {
        try await base.conversation(id, owner: owner)
    }
    func conversationInWorkspace(_ id: String, workspaceID: String) async throws -> ConversationRecord? {
        try await base.conversationInWorkspace(id, workspaceID: workspaceID)
    }
    func conversations(owner: ConversationOwner, limit: Int, cursor: String?) async throws -> Page<ConversationRecord> {
        try await base.conversations(owner: owner, limit: limit, cursor: cursor)
    }
    func renameConversation(_ id: String, owner: ConversationOwner, title: String, at time: Int64) async throws -> ConversationRecord? {
        try await base.renameConversation(id, owner: owner, title: title, at: time)
    }
    func deleteConversation(_ id: String, owner: ConversationOwner) async throws -> Bool {
        try await base.deleteConversation(id, owner: owner)
    }
    func messages(conversationID: String, limit: Int, before: String?) async throws -> (items: [MessageRecord], hasMore: Bool) {
        try await base.messages(conversationID: conversationID, limit: limit, before: before)
    }
    func messages(conversationID: String, owner: ConversationOwner, limit: Int, before: String?) async throws
        -> (items: [MessageRecord], hasMore: Bool)?
    {
        try await base.messages(conversationID: conversationID, owner: owner, limit: limit, before: before)
    }
    func message(_ id: String, conversationID: String) async throws -> MessageRecord? {
        try await base.message(id, conversationID: conversationID)
    }
    func reply(toClientMessageID clientMessageID: String, conversationID: String) async throws -> ReplyPair? {
        try await base.reply(toClientMessageID: clientMessageID, conversationID: conversationID)
    }
    func postTarget(conversationID: String, owner: ConversationOwner, clientMessageID: String?) async throws -> PostTarget? {
        try await base.postTarget(conversationID: conversationID, owner: owner, clientMessageID: clientMessageID)
    }
    func replyHistory(conversationID: String, limit: Int) async throws -> [MessageRecord] {
        try await base.replyHistory(conversationID: conversationID, limit: limit)
    }
    func flushReplies(_ texts: [(messageID: String, content: String)], at time: Int64) async throws {
        try await base.flushReplies(texts, at: time)
    }
    func finishReply(_ message: MessageRecord) async throws {
        try await base.finishReply(message)
    }
    func interruptAbandonedReplies(at time: Int64) async throws -> Int {
        try await base.interruptAbandonedReplies(at: time)
    }
    func outputTokens(workspaceID: String, day: String) async throws -> Int {
        try await base.outputTokens(workspaceID: workspaceID, day: day)
    }
    func saveFeedback(_ feedback: FeedbackRecord) async throws {
        try await base.saveFeedback(feedback)
    }
    func workspaceConversations(workspaceID: String, userID: String?, updatedSince: Int64?, limit: Int, cursor: String?) async throws
        -> Page<ConversationRecord>
    {
        try await base.workspaceConversations(workspaceID: workspaceID, userID: userID, updatedSince: updatedSince, limit: limit, cursor: cursor)
    }
    func deleteConversation(_ id: String, workspaceID: String) async throws -> Bool {
        try await base.deleteConversation(id, workspaceID: workspaceID)
    }
    func eraseUser(workspaceID: String, userID: String, audit: AuditEvent) async throws -> (conversations: Int, tokens: Int) {
        try await base.eraseUser(workspaceID: workspaceID, userID: userID, audit: audit)
    }
    func deleteConversations(workspaceID: String, updatedBefore cutoff: Int64, limit: Int) async throws -> Int {
        try await base.deleteConversations(workspaceID: workspaceID, updatedBefore: cutoff, limit: limit)
    }
    func usage(workspaceID: String, from: String, to: String, groupBy column: String) async throws -> [UsageRow] {
        try await base.usage(workspaceID: workspaceID, from: from, to: to, groupBy: column)
    }
}
