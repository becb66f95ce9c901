import Foundation
import GRDB

struct ConversationRecord: StoredRecord, Equatable {
    static let databaseTableName = "conversations"

    var seq: Int64?
    var id: String
    var workspaceId: String
    var userId: String
    var botId: String
    var title: String?
    var lastMessagePreview: String?
    var createdAt: Int64
    var updatedAt: Int64

    mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}

extension ConversationRecord: PositionallyDecodedRecord {
    static let columnNames = [
        "seq", "id", "workspace_id", "user_id", "bot_id", "title", "last_message_preview", "created_at", "updated_at",
    ]
    static let insertSQL = makeInsertSQL()

    /// Read by position (see `PositionallyDecodedRecord`): conversation lists read twenty of
    /// these a request.
    init(row: Row) throws {
        try Self.checkShape(of: row)
        seq = try row.decode(atIndex: 0)
        id = try row.decode(atIndex: 1)
        workspaceId = try row.decode(atIndex: 2)
        userId = try row.decode(atIndex: 3)
        botId = try row.decode(atIndex: 4)
        title = try row.decode(atIndex: 5)
        lastMessagePreview = try row.decode(atIndex: 6)
        createdAt = try row.decode(atIndex: 7)
        updatedAt = try row.decode(atIndex: 8)
    }

    func columnValues() -> [(any DatabaseValueConvertible)?] {
        [seq, id, workspaceId, userId, botId, title, lastMessagePreview, createdAt, updatedAt]
    }

    /// Written from the column list, as `EmbedTokenRecord`'s is: the `Codable` route snake-cases
    /// every key on every write.
    func encode(to container: inout PersistenceContainer) throws {
        try encodeColumns(to: &container)
    }
}

enum MessageRole: String, Codable, Sendable, DatabaseValueConvertible {
    case user
    case assistant
}

/// The life of an assistant message (DESIGN.md §1).
enum ReplyStatus: String, Codable, Sendable, DatabaseValueConvertible {
    case streaming
    case complete
    case cancelled
    case failed
    case interrupted
}

struct MessageRecord: StoredRecord, Equatable {
    static let databaseTableName = "messages"

    var seq: Int64?
    var id: String
    var conversationId: String
    var workspaceId: String
    var userId: String
    var botId: String
    var role: MessageRole
    var content: String
    var status: ReplyStatus?
    var finishReason: String?
    var errorCode: String?
    var model: String?
    var inputTokens: Int?
    var outputTokens: Int?
    var clientMessageId: String?
    var replyTo: String?
    var createdAt: Int64
    var updatedAt: Int64
    /// For a finished reply, the seq of the terminal event its followers were sent.
    var terminalSeq: Int? = nil

    mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}

extension MessageRecord: PositionallyDecodedRecord {
    static let columnNames = [
        "seq", "id", "conversation_id", "workspace_id", "user_id", "bot_id", "role", "content", "status", "finish_reason",
        "error_code", "model", "input_tokens", "output_tokens", "client_message_id", "created_at", "updated_at", "reply_to",
        "terminal_seq",
    ]
    static let insertSQL = makeInsertSQL()

    /// Read by position (see `PositionallyDecodedRecord`): a page of history is fifty of these
    /// and a reply's context up to two hundred.
    init(row: Row) throws {
        try Self.checkShape(of: row)
        seq = try row.decode(atIndex: 0)
        id = try row.decode(atIndex: 1)
        conversationId = try row.decode(atIndex: 2)
        workspaceId = try row.decode(atIndex: 3)
        userId = try row.decode(atIndex: 4)
        botId = try row.decode(atIndex: 5)
        role = try Self.decodeRaw(MessageRole.self, row, atIndex: 6)
        content = try row.decode(atIndex: 7)
        status = try row.hasNull(atIndex: 8) ? nil : Self.decodeRaw(ReplyStatus.self, row, atIndex: 8)
        finishReason = try row.decode(atIndex: 9)
        errorCode = try row.decode(atIndex: 10)
        model = try row.decode(atIndex: 11)
        inputTokens = try row.decode(atIndex: 12)
        outputTokens = try row.decode(atIndex: 13)
        clientMessageId = try row.decode(atIndex: 14)
        createdAt = try row.decode(atIndex: 15)
        updatedAt = try row.decode(atIndex: 16)
        replyTo = try row.decode(atIndex: 17)
        terminalSeq = try row.decode(atIndex: 18)
    }

    func columnValues() -> [(any DatabaseValueConvertible)?] {
        [
            seq, id, conversationId, workspaceId, userId, botId, role.rawValue, content, status?.rawValue, finishReason, errorCode,
            model, inputTokens, outputTokens, clientMessageId, createdAt, updatedAt, replyTo, terminalSeq,
        ]
    }

    /// Written from the column list: every message posted inserts two of these (the user's and
    /// the reply's).
    func encode(to container: inout PersistenceContainer) throws {
        try encodeColumns(to: &container)
    }
}

struct FeedbackRecord: StoredRecord, Equatable {
    static let databaseTableName = "feedback"

    var messageId: String
    var workspaceId: String
    var userId: String
    var rating: String
    var comment: String?
    var createdAt: Int64
    var updatedAt: Int64
}
