import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

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

/// The history page and the conversation list, written by hand: byte for byte what
/// `JSONBody.encoder` writes of `MessagePage` and of a `ListBody` of `ConversationView`s (keys
/// sorted, times in whole seconds), which HotPathEncodingTests hold them to. They are the widget's
/// most frequent reads, and through `JSONEncoder` the history row of `make bench` fell well below
/// its floor (bench/README.md, "Back to the libraries").
enum ChatPageJSON {
    static func messages(_ records: [MessageRecord], hasMore: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(64 + records.reduce(0) { $0 + $1.content.utf8.count + 320 })
        buffer.writeStaticString(#"{"data":["#)
        for (index, record) in records.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            buffer.writeStaticString(#"{"content":"#)
            JSONStringLiteral.write(record.content, into: &buffer)
            buffer.writeStaticString(#","conversation_id":"#)
            JSONStringLiteral.write(record.conversationId, into: &buffer)
            buffer.writeStaticString(#","created_at":"#)
            writeTime(record.createdAt, into: &buffer)
            buffer.writeStaticString(#","finish_reason":"#)
            writeOptional(record.finishReason, into: &buffer)
            buffer.writeStaticString(#","id":"#)
            JSONStringLiteral.write(record.id, into: &buffer)
            buffer.writeStaticString(#","role":"#)
            JSONStringLiteral.write(record.role.rawValue, into: &buffer)
            buffer.writeStaticString(#","status":"#)
            writeOptional(record.status?.rawValue, into: &buffer)
            buffer.writeStaticString(#","usage":"#)
            if let usage = MessageView.usage(of: record) {
                buffer.writeString(#"{"input_tokens":\#(usage.inputTokens),"output_tokens":\#(usage.outputTokens)}"#)
            } else {
                buffer.writeStaticString("null")
            }
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString(hasMore ? #"],"has_more":true}"# : #"],"has_more":false}"#)
        return buffer
    }

    static func conversations(_ records: [ConversationRecord], nextCursor: String?) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(64 + records.count * 384)
        buffer.writeStaticString(#"{"data":["#)
        for (index, record) in records.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            buffer.writeStaticString(#"{"created_at":"#)
            writeTime(record.createdAt, into: &buffer)
            buffer.writeStaticString(#","id":"#)
            JSONStringLiteral.write(record.id, into: &buffer)
            buffer.writeStaticString(#","last_message_preview":"#)
            writeOptional(record.lastMessagePreview, into: &buffer)
            buffer.writeStaticString(#","title":"#)
            writeOptional(record.title, into: &buffer)
            buffer.writeStaticString(#","updated_at":"#)
            writeTime(record.updatedAt, into: &buffer)
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString(#"],"next_cursor":"#)
        writeOptional(nextCursor, into: &buffer)
        buffer.writeStaticString("}")
        return buffer
    }

    private static func writeOptional(_ text: String?, into buffer: inout ByteBuffer) {
        if let text { JSONStringLiteral.write(text, into: &buffer) } else { buffer.writeStaticString("null") }
    }

    /// `"YYYY-MM-DDTHH:MM:SSZ"`, the UTC second the time falls in, as `.iso8601` writes a `Date`.
    private static func writeTime(_ milliseconds: Int64, into buffer: inout ByteBuffer) {
        var seconds = time_t(milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int32, _ count: Int) {
            var divisor: Int32 = 1
            for _ in 1..<count { divisor *= 10 }
            while divisor > 0 {
                buffer.writeInteger(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
                divisor /= 10
            }
        }
        buffer.writeStaticString("\"")
        digits(parts.tm_year + 1900, 4)
        buffer.writeStaticString("-")
        digits(parts.tm_mon + 1, 2)
        buffer.writeStaticString("-")
        digits(parts.tm_mday, 2)
        buffer.writeStaticString("T")
        digits(parts.tm_hour, 2)
        buffer.writeStaticString(":")
        digits(parts.tm_min, 2)
        buffer.writeStaticString(":")
        digits(parts.tm_sec, 2)
        buffer.writeStaticString("Z\"")
    }
}
