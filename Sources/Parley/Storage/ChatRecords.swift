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

enum MessageRole: String, Codable, Sendable {
    case user
    case assistant
}

/// The life of an assistant message (DESIGN.md §1).
enum ReplyStatus: String, Codable, Sendable {
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
