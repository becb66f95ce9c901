import Foundation

/// Who owns a conversation: a user of a workspace, talking to one bot. Every read and write of the
/// chat API goes through one, taken from the embed token's `wid`, `sub` and `bid`, so a query can
/// only ever see that user's conversations with that bot; another bot's are not found.
struct ConversationOwner: Sendable, Equatable {
    var workspaceID: String
    var userID: String
    var botID: String
}

/// A stored user message and the assistant reply that answers it. A class: it is handed through
/// several async calls, and an async frame keeps a slot for every value it holds across an await.
final class ReplyPair: Sendable, Equatable {
    let user: MessageRecord
    let assistant: MessageRecord

    init(user: MessageRecord, assistant: MessageRecord) {
        self.user = user
        self.assistant = assistant
    }

    static func == (left: ReplyPair, right: ReplyPair) -> Bool {
        left.user == right.user && left.assistant == right.assistant
    }
}

/// A post as the hub first knows it: who sent what to which conversation, with the ids and time
/// its two messages will have. The storage checks the conversation's owner and bot again in the
/// transaction that stores it, so a deletion since the checks cannot leave an orphan.
struct ReplyDraft: Sendable, Equatable {
    var owner: ConversationOwner
    var conversationID: String
    var content: String
    var clientMessageID: String?
    var userMessageID = RandomToken.id("msg_")
    var replyID = RandomToken.id("msg_")
    var createdAt: Int64

    /// The user message and the empty `streaming` reply, as answered by the bot `botID` running `model`.
    func pair(botID: String, model: String) -> ReplyPair {
        let user = MessageRecord(
            id: userMessageID, conversationId: conversationID, workspaceId: owner.workspaceID, userId: owner.userID,
            botId: botID, role: .user, content: content, status: nil, finishReason: nil, errorCode: nil, model: nil,
            inputTokens: nil, outputTokens: nil, clientMessageId: clientMessageID, replyTo: nil, createdAt: createdAt,
            updatedAt: createdAt)
        var reply = user
        reply.id = replyID
        reply.role = .assistant
        reply.content = ""
        reply.status = .streaming
        reply.model = model
        reply.clientMessageId = nil
        reply.replyTo = user.id
        return ReplyPair(user: user, assistant: reply)
    }
}

/// What a new message is checked against before anything is stored: the conversation (its
/// owner's), the bot that answers it, and, for a repeated `client_message_id`, the reply already
/// stored for it. Read in one transaction.
struct PostTarget: Sendable {
    var conversation: ConversationRecord
    /// The conversation's bot; `nil` once it was deleted.
    var bot: BotRecord?
    /// The stored reply to the same `client_message_id`, when the post is a repeat.
    var earlierReply: ReplyPair?
}

/// Conversations, messages and feedback: the chat's storage seam.
protocol ChatStore: Sendable {
    func createConversation(_ conversation: ConversationRecord) async throws -> ConversationRecord
    func conversation(_ id: String, owner: ConversationOwner) async throws -> ConversationRecord?
    /// For signed view links and the admin API, which see every user of a workspace.
    func conversationInWorkspace(_ id: String, workspaceID: String) async throws -> ConversationRecord?
    func conversations(owner: ConversationOwner, limit: Int, cursor: String?) async throws -> Page<ConversationRecord>
    func renameConversation(_ id: String, owner: ConversationOwner, title: String, at time: Int64) async throws -> ConversationRecord?
    func deleteConversation(_ id: String, owner: ConversationOwner) async throws -> Bool

    /// A page of messages, oldest first, ending just before `before` (or at the newest).
    func messages(conversationID: String, limit: Int, before: String?) async throws -> (items: [MessageRecord], hasMore: Bool)
    /// The same page, read only if `owner` has the conversation (`nil` otherwise).
    func messages(conversationID: String, owner: ConversationOwner, limit: Int, before: String?) async throws
        -> (items: [MessageRecord], hasMore: Bool)?
    /// The conversation (if `owner` has it), its bot and a repeat's earlier reply, in one read.
    func postTarget(conversationID: String, owner: ConversationOwner, clientMessageID: String?) async throws -> PostTarget?
    /// The newest `limit` messages with text that are not still streaming, oldest first: what a
    /// provider is sent as the conversation so far.
    func replyHistory(conversationID: String, limit: Int) async throws -> [MessageRecord]
    func message(_ id: String, conversationID: String) async throws -> MessageRecord?
    func reply(toClientMessageID clientMessageID: String, conversationID: String) async throws -> ReplyPair?

    /// Stores the draft's user message and empty `streaming` reply in one transaction, and updates
    /// the conversation's title (if unset), preview and time; returns once that is on disk.
    ///
    /// It checks what it stores against, in the same transaction, so it needs no read before it.
    ///
    /// - Throws: 404 `not_found` when `draft.owner` has no such conversation or its bot is gone;
    ///   a constraint error for a `client_message_id` already stored in the conversation.
    func startReply(_ draft: ReplyDraft) async throws
    /// Saves the text so far of streaming replies, in one transaction. Replies no longer
    /// `streaming` are left as they are.
    func flushReplies(_ texts: [(messageID: String, content: String)], at time: Int64) async throws
    /// Saves the final state of a reply and adds its usage to the daily roll-up.
    func finishReply(_ message: MessageRecord) async throws
    /// Marks replies left `streaming` by a crash as `interrupted`; returns how many.
    func interruptAbandonedReplies(at time: Int64) async throws -> Int
    /// Output tokens already used by a workspace on `day` (UTC, `YYYY-MM-DD`).
    func outputTokens(workspaceID: String, day: String) async throws -> Int

    func saveFeedback(_ feedback: FeedbackRecord) async throws

    // Operators' view: every user of a workspace.

    /// Newest first; `userID` and `updatedSince` narrow the list.
    func workspaceConversations(workspaceID: String, userID: String?, updatedSince: Int64?, limit: Int, cursor: String?) async throws
        -> Page<ConversationRecord>
    func deleteConversation(_ id: String, workspaceID: String) async throws -> Bool
    /// Deletes every conversation (with messages and feedback), usage row and issued token of the
    /// user, and writes `audit`, in one transaction. Returns the numbers deleted.
    func eraseUser(workspaceID: String, userID: String, audit: AuditEvent) async throws -> (conversations: Int, tokens: Int)
    /// Deletes at most `limit` conversations of the workspace last updated before `cutoff`;
    /// returns how many. Small batches keep each write transaction short.
    func deleteConversations(workspaceID: String, updatedBefore cutoff: Int64, limit: Int) async throws -> Int
    /// Usage between two days (inclusive, `YYYY-MM-DD`), summed per `group` (`day`, `bot_id` or `user_id`).
    func usage(workspaceID: String, from: String, to: String, groupBy column: String) async throws -> [UsageRow]
}

struct UsageRow: Codable, Sendable, Equatable {
    var key: String
    var messages: Int
    var inputTokens: Int
    var outputTokens: Int

    enum CodingKeys: String, CodingKey {
        case key, messages
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
    }
}

enum UsageDay {
    private static let format = Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day()

    /// The UTC day of a timestamp column's time, `YYYY-MM-DD`.
    static func string(for milliseconds: Int64) -> String {
        Date(milliseconds: milliseconds).formatted(format)
    }
}
