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

extension ConversationRecord {
    /// Read column by column rather than through `Decodable`: conversation lists read twenty of
    /// these a request, and the keyed decoder costs several times the row's own work.
    init(row: Row) throws {
        seq = try row.decode(forColumn: "seq")
        id = try row.decode(forColumn: "id")
        workspaceId = try row.decode(forColumn: "workspace_id")
        userId = try row.decode(forColumn: "user_id")
        botId = try row.decode(forColumn: "bot_id")
        title = try row.decode(forColumn: "title")
        lastMessagePreview = try row.decode(forColumn: "last_message_preview")
        createdAt = try row.decode(forColumn: "created_at")
        updatedAt = try row.decode(forColumn: "updated_at")
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

    mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}

extension MessageRecord {
    /// Read column by column rather than through `Decodable`: a page of history is fifty of
    /// these and a reply's context up to two hundred, and the keyed decoder costs several times
    /// the row's own work.
    init(row: Row) throws {
        seq = try row.decode(forColumn: "seq")
        id = try row.decode(forColumn: "id")
        conversationId = try row.decode(forColumn: "conversation_id")
        workspaceId = try row.decode(forColumn: "workspace_id")
        userId = try row.decode(forColumn: "user_id")
        botId = try row.decode(forColumn: "bot_id")
        role = try row.decode(forColumn: "role")
        content = try row.decode(forColumn: "content")
        status = try row.decode(forColumn: "status")
        finishReason = try row.decode(forColumn: "finish_reason")
        errorCode = try row.decode(forColumn: "error_code")
        model = try row.decode(forColumn: "model")
        inputTokens = try row.decode(forColumn: "input_tokens")
        outputTokens = try row.decode(forColumn: "output_tokens")
        clientMessageId = try row.decode(forColumn: "client_message_id")
        replyTo = try row.decode(forColumn: "reply_to")
        createdAt = try row.decode(forColumn: "created_at")
        updatedAt = try row.decode(forColumn: "updated_at")
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
