import Foundation
import NIOCore

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
    static func usage(of record: borrowing MessageRecord) -> TokenUsage? {
        record.role == .assistant && record.status != .streaming
            ? TokenUsage(inputTokens: record.inputTokens ?? 0, outputTokens: record.outputTokens ?? 0) : nil
    }

    /// A page of history, `{"data": […], "has_more": …}`, written without `JSONEncoder`.
    static func page(_ records: [MessageRecord], hasMore: Bool) -> ByteBuffer {
        // Room for each message's text plus its other fields, so the body is never regrown.
        var body = JSONObjectWriter(capacity: records.reduce(64) { $0 + $1.content.utf8.count + 256 })
        body.field("data", objects: records) { object, record in write(record, into: &object) }
        body.field("has_more", hasMore)
        return body.byteBuffer()
    }

    /// Writes the same object as `encode(to:)` with `JSONBody.encoder` (keys sorted), without
    /// `JSONEncoder`: a page of history is fifty of these, and the encoder was a third of the
    /// request's time. The record is borrowed, not wrapped in a view: copying one retains and
    /// releases each of its strings, fifty times a page.
    static func write(_ record: borrowing MessageRecord, into object: inout JSONObjectWriter) {
        object.field("content", record.content)
        object.field("conversation_id", record.conversationId)
        object.field("created_at", timeMilliseconds: record.createdAt)
        object.field("finish_reason", record.finishReason)
        object.field("id", record.id)
        object.field("role", record.role.rawValue)
        object.field("status", record.status?.rawValue)
        if let usage = usage(of: record) {
            object.field("usage") { object in
                object.field("input_tokens", usage.inputTokens)
                object.field("output_tokens", usage.outputTokens)
            }
        } else {
            object.nullField("usage")
        }
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

extension ConversationView {
    /// A page of conversations, the same bytes as `ListBody` of views through `JSONBody.encoder`.
    static func list(_ records: [ConversationRecord], nextCursor: String?) -> ByteBuffer {
        var body = JSONObjectWriter(capacity: 64 + records.count * 384)
        body.field("data", objects: records) { object, record in write(record, into: &object) }
        body.field("next_cursor", nextCursor)
        return body.byteBuffer()
    }

    /// Writes the same object as `encode(to:)` with `JSONBody.encoder` (keys sorted), without
    /// `JSONEncoder`, for the conversation list.
    static func write(_ record: borrowing ConversationRecord, into object: inout JSONObjectWriter) {
        object.field("created_at", timeMilliseconds: record.createdAt)
        object.field("id", record.id)
        object.field("last_message_preview", record.lastMessagePreview)
        object.field("title", record.title)
        object.field("updated_at", timeMilliseconds: record.updatedAt)
    }
}
