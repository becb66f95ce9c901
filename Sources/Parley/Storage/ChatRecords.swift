import Foundation

struct ConversationRecord: Codable, Sendable, Equatable {
    var seq: Int64?
    var id: String
    var workspaceId: String
    var userId: String
    var botId: String
    var title: String?
    var lastMessagePreview: String?
    var createdAt: Int64
    var updatedAt: Int64
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

struct MessageRecord: Codable, Sendable, Equatable {
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
}

struct FeedbackRecord: Codable, Sendable, Equatable {
    var messageId: String
    var workspaceId: String
    var userId: String
    var rating: String
    var comment: String?
    var createdAt: Int64
    var updatedAt: Int64
}
