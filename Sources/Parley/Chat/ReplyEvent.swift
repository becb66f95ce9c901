import Foundation
import NIOCore

/// One event of a reply's stream: `id: <message id>:<seq>`, a name, and one line of JSON.
///
/// The event carries its `text/event-stream` frame, encoded once when the event is made: every
/// follower of the reply writes the same bytes, and a delta is sent to every stream for every
/// chunk the provider sends.
struct ReplyEvent: Sendable, Equatable {
    enum Name: String, Sendable {
        case userMessage = "user_message"
        case started = "response.started"
        case delta = "response.delta"
        case completed = "response.completed"
        case error = "response.error"
    }

    let messageID: String
    let seq: Int
    let name: Name
    /// The whole frame, ready to write.
    let frame: ByteBuffer
    /// Where `data` starts in `frame`.
    private let dataOffset: Int

    var id: String { "\(messageID):\(seq)" }
    var isTerminal: Bool { name == .completed || name == .error }

    /// The event's JSON: compact, so it never holds a line break and text from the model cannot
    /// forge an event.
    var data: String {
        frame.getString(at: dataOffset, length: frame.readableBytes - dataOffset - 2) ?? ""
    }

    /// An event of one of the payloads every reply sends, through `JSONBody.encoder`. Their fields
    /// are strings, integers, booleans and nulls, which the encoder always takes, so a failure
    /// here is a bug in Parley, never something a client or provider sent.
    init(messageID: String, seq: Int, name: Name, payload: some ReplyEventPayload) {
        do {
            try self.init(messageID: messageID, seq: seq, name: name, encoding: payload)
        } catch {
            preconditionFailure("a \(name.rawValue) payload did not encode: \(error)")
        }
    }

    /// An event of any payload, through `JSONBody.encoder`.
    init(messageID: String, seq: Int, name: Name, encoding payload: some Encodable) throws {
        let json = try JSONBody.encoder.encode(payload)
        self.init(messageID: messageID, seq: seq, name: name, dataCapacity: json.count) { buffer in
            buffer.writeBytes(json)
        }
    }

    /// A `response.delta`, its JSON written by hand: this is the event sent once per chunk of
    /// every reply. Same bytes as `ReplyPayload.Delta` through `JSONBody.encoder`.
    static func delta(_ text: String, messageID: String, seq: Int) -> ReplyEvent {
        ReplyEvent(messageID: messageID, seq: seq, name: .delta, dataCapacity: text.utf8.count + messageID.utf8.count + 32) { buffer in
            buffer.writeStaticString(#"{"delta":"#)
            JSONStringLiteral.write(text, into: &buffer)
            buffer.writeStaticString(#","message_id":"#)
            JSONStringLiteral.write(messageID, into: &buffer)
            buffer.writeStaticString("}")
        }
    }

    private init(messageID: String, seq: Int, name: Name, dataCapacity: Int, writeData: (inout ByteBuffer) -> Void) {
        self.messageID = messageID
        self.seq = seq
        self.name = name
        (frame, dataOffset) = ServerSentEventEncoder.frame(
            id: messageID, seq: seq, name: name.rawValue, dataCapacity: dataCapacity, writeData: writeData)
    }

    static func == (lhs: ReplyEvent, rhs: ReplyEvent) -> Bool {
        lhs.messageID == rhs.messageID && lhs.seq == rhs.seq && lhs.name == rhs.name && lhs.frame == rhs.frame
    }
}

/// Writes `text/event-stream` frames. The one place event text is produced, so the framing rules
/// live here: `id` and `event` may not contain CR or LF, `data` is always a single line.
enum ServerSentEventEncoder {
    private static let allocator = ByteBufferAllocator()
    static let preamble = ByteBuffer(string: "retry: 3000\n\n")
    static let ping = ByteBuffer(string: ": ping\n\n")

    /// The frame `id: <id>:<seq>`, `event: <name>`, `data: …`, with the data `writeData` writes
    /// (about `dataCapacity` bytes).
    ///
    /// - Returns: the frame, and where its data starts.
    static func frame(
        id: String, seq: Int, name: String, dataCapacity: Int, writeData: (inout ByteBuffer) -> Void
    ) -> (ByteBuffer, dataOffset: Int) {
        var buffer = allocator.buffer(capacity: id.utf8.count + name.utf8.count + dataCapacity + 40)
        buffer.writeStaticString("id: ")
        writeSingleLine(id, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
        buffer.writeString(String(seq))
        buffer.writeStaticString("\nevent: ")
        writeSingleLine(name, into: &buffer)
        buffer.writeStaticString("\ndata: ")
        let dataStart = buffer.writerIndex
        writeData(&buffer)
        // The data is ours or JSON, so it cannot hold a line break; drop any anyway rather than
        // ever emit a frame that could split into two events. Only CR and LF end an SSE line, so
        // only they go (a U+2028 in the model's text is the model's text).
        let dataOffset = dataStart - buffer.readerIndex
        let hasLineBreak = buffer.withUnsafeReadableBytes { Self.containsLineBreak(UnsafeRawBufferPointer(rebasing: $0[dataOffset...])) }
        if hasLineBreak {
            let kept = buffer.readableBytesView[dataStart...].filter { !Self.isLineBreak($0) }
            buffer.moveWriterIndex(to: dataStart)
            buffer.writeBytes(kept)
        }
        buffer.writeStaticString("\n\n")
        return (buffer, dataStart)
    }

    private static func writeSingleLine(_ text: String, into buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { bytes -> Void in
            if containsLineBreak(UnsafeRawBufferPointer(bytes)) {
                buffer.writeBytes(bytes.filter { !isLineBreak($0) })
            } else {
                buffer.writeBytes(UnsafeRawBufferPointer(bytes))
            }
        }
    }

    /// Through a pointer: every frame of every reply is looked over twice (its id and its data),
    /// and stepping through `String.utf8` or a buffer's view costs several times the comparison.
    private static func containsLineBreak(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.contains(where: isLineBreak)
    }

    private static func isLineBreak(_ byte: UInt8) -> Bool { byte == 0x0A || byte == 0x0D }
}

/// The payload of an event other than a delta: sent a few times a reply, so plain `Encodable`.
protocol ReplyEventPayload: Encodable {}

/// The payloads of the events (DESIGN.md §4, "The stream").
enum ReplyPayload {
    struct UserMessage: Encodable { var message: MessageView }

    struct Started: Encodable {
        var messageID: String
        var conversationID: String
        var model: String

        enum CodingKeys: String, CodingKey {
            case model
            case messageID = "message_id"
            case conversationID = "conversation_id"
        }
    }

    struct Delta: Encodable {
        var messageID: String
        var delta: String

        enum CodingKeys: String, CodingKey {
            case delta
            case messageID = "message_id"
        }
    }

    struct Completed: Encodable { var message: MessageView }

    struct Failed: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }

        var messageID: String
        var error: Detail
        var message: MessageView

        enum CodingKeys: String, CodingKey {
            case error, message
            case messageID = "message_id"
        }
    }
}

extension ReplyPayload.UserMessage: ReplyEventPayload {}
extension ReplyPayload.Started: ReplyEventPayload {}
extension ReplyPayload.Completed: ReplyEventPayload {}
extension ReplyPayload.Failed: ReplyEventPayload {}
