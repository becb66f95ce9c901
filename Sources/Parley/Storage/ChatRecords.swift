import Foundation
import GRDB

struct ConversationRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "conversations"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

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

struct MessageRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "messages"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

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

struct FeedbackRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "feedback"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var messageId: String
    var workspaceId: String
    var userId: String
    var rating: String
    var comment: String?
    var createdAt: Int64
    var updatedAt: Int64
}
