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
    static func usage(of message: some ShownMessage) -> TokenUsage? {
        message.role == .assistant && message.status != .streaming
            ? TokenUsage(inputTokens: message.inputTokens ?? 0, outputTokens: message.outputTokens ?? 0) : nil
    }

    /// Writes the same object as `encode(to:)` with `JSONBody.encoder` (keys sorted), without
    /// `JSONEncoder`: a page of history is fifty of these, and the encoder was a third of the
    /// request's time. The message is borrowed, not wrapped in a view: copying a record retains
    /// and releases each of its strings, fifty times a page. Records and rows read in place go
    /// through this one function, so the two cannot drift apart.
    static func write(_ message: borrowing some ShownMessage, into object: inout JSONObjectWriter) {
        object.field("content", message.content)
        object.field("conversation_id", message.conversationId)
        object.field("created_at", timeMilliseconds: message.createdAt)
        object.field("finish_reason", message.finishReason)
        object.field("id", message.id)
        object.field("role", message.role.rawValue)
        object.field("status", message.status?.rawValue)
        if let usage = usage(of: message) {
            object.field("usage") { object in
                object.field("input_tokens", usage.inputTokens)
                object.field("output_tokens", usage.outputTokens)
            }
        } else {
            object.nullField("usage")
        }
    }
}

/// What a message's JSON shows, from a `MessageRecord` or from a row read in place
/// (`BorrowedMessageRow`).
protocol ShownMessage {
    associatedtype Text: JSONStringValue
    var id: Text { get }
    var conversationId: Text { get }
    var role: MessageRole { get }
    var content: Text { get }
    var status: ReplyStatus? { get }
    var finishReason: Text? { get }
    var inputTokens: Int? { get }
    var outputTokens: Int? { get }
    var createdAt: Int64 { get }
}

extension MessageRecord: ShownMessage {}
extension BorrowedMessageRow: ShownMessage {}

extension SQLiteText: JSONStringValue {
    /// ASCII (ids, and most text) is written as SQLite holds it. Other text goes through
    /// `String`, whose decoding repairs invalid UTF-8 as reading a record does, so a row
    /// written by another program still makes valid JSON, and the same JSON as its record.
    func writeJSONString(into output: inout some JSONByteOutput) {
        if JSONStringLiteral.isASCII(bytes) {
            JSONStringLiteral.write(utf8: bytes, into: &output)
        } else {
            JSONStringLiteral.write(string, into: &output)
        }
    }
}

/// A page of history, `{"data": […], "has_more": …}`, written as the store reads it.
///
/// The store reads a page newest first (the index runs that way from the anchor), and hands over
/// each row borrowed, for the call only, so each message is written as it comes, into one run of
/// bytes, in a place of its own; the page then lists those places oldest first.
struct MessagePageWriter: MessageRowConsumer {
    private var objects: JSONBytes
    private var ends: [Int] = []

    /// Room for `expectedCount` short messages (the fields around a message's text take about 250 bytes).
    init(expectedCount: Int = 50) {
        objects = JSONBytes(capacity: expectedCount * 384)
        ends.reserveCapacity(expectedCount)
    }

    /// Adds a message older than every one added so far.
    mutating func add(_ row: borrowing BorrowedMessageRow) {
        let row = copy row  // a few pointers and integers, for the closure
        JSONObjectWriter.appendObject(to: &objects) { MessageView.write(row, into: &$0) }
        ends.append(objects.count)
    }

    /// The page, oldest message first: `{"data":[…],"has_more":…}`, as `JSONBody.encoder` writes
    /// a `PageBody`, put straight into the response's buffer.
    consuming func page(hasMore: Bool) -> ByteBuffer {
        var body = ByteBuffer()
        body.reserveCapacity(objects.count + ends.count + 32)
        body.writeStaticString(#"{"data":["#)
        objects.withUnsafeBytes { objects in
            for index in ends.indices.reversed() {
                if index != ends.count - 1 { body.writeInteger(UInt8(ascii: ",")) }
                body.writeBytes(UnsafeRawBufferPointer(rebasing: objects[(index == 0 ? 0 : ends[index - 1])..<ends[index]]))
            }
        }
        body.writeStaticString(hasMore ? #"],"has_more":true}"# : #"],"has_more":false}"#)
        return body
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
