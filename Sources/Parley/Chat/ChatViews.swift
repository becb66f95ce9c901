import Foundation

/// A message as the chat API and the stream's events show it (DESIGN.md §4).
struct MessageView: Encodable, Sendable {
    var record: MessageRecord

    enum CodingKeys: String, CodingKey {
        case id, role, content, status, usage
        case conversationID = "conversation_id"
        case finishReason = "finish_reason"
        case createdAt = "created_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.id, forKey: .id)
        try container.encode(record.conversationId, forKey: .conversationID)
        try container.encode(record.role, forKey: .role)
        try container.encode(record.content, forKey: .content)
        try container.encode(record.status, forKey: .status)
        try container.encode(record.finishReason, forKey: .finishReason)
        try container.encode(usage, forKey: .usage)
        try container.encode(Date(milliseconds: record.createdAt), forKey: .createdAt)
    }
}

extension MessageView {
    var usage: TokenUsage? { Self.usage(of: record) }

    /// Usage is shown once an assistant reply has stopped streaming.
    static func usage(of message: MessageRecord) -> TokenUsage? {
        message.role == .assistant && message.status != .streaming
            ? TokenUsage(inputTokens: message.inputTokens ?? 0, outputTokens: message.outputTokens ?? 0) : nil
    }
}

/// A page of history, `{"data": […], "has_more": …}`, oldest message first.
struct MessagePage: Encodable, Sendable {
    var data: [MessageView]
    var hasMore: Bool

    enum CodingKeys: String, CodingKey {
        case data
        case hasMore = "has_more"
    }
}

struct ConversationView: Encodable, Sendable {
    var record: ConversationRecord

    enum CodingKeys: String, CodingKey {
        case id, title
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case lastMessagePreview = "last_message_preview"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.id, forKey: .id)
        try container.encode(record.title, forKey: .title)
        try container.encode(Date(milliseconds: record.createdAt), forKey: .createdAt)
        try container.encode(Date(milliseconds: record.updatedAt), forKey: .updatedAt)
        try container.encode(record.lastMessagePreview, forKey: .lastMessagePreview)
    }
}
