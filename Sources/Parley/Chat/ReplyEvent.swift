import Foundation
import NIOCore

/// One event of a reply's stream: `id: <message id>:<seq>`, a name, and one line of JSON.
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
    /// Compact JSON: `JSONEncoder` escapes every control character, so this never holds a line
    /// break and text from the model cannot forge an event.
    let data: String

    var id: String { "\(messageID):\(seq)" }
    var isTerminal: Bool { name == .completed || name == .error }

    init(messageID: String, seq: Int, name: Name, payload: some Encodable) throws {
        self.init(messageID: messageID, seq: seq, name: name, data: String(decoding: try JSONBody.encoder.encode(payload), as: UTF8.self))
    }

    /// A `response.delta`, its JSON written by hand: this is the event sent once per chunk of
    /// every reply. Same bytes as `ReplyPayload.Delta` through `JSONBody.encoder`.
    static func delta(_ text: String, messageID: String, seq: Int) -> ReplyEvent {
        let data = #"{"delta":"# + JSONStringLiteral.quoted(text) + #","message_id":"# + JSONStringLiteral.quoted(messageID) + "}"
        return ReplyEvent(messageID: messageID, seq: seq, name: .delta, data: data)
    }

    private init(messageID: String, seq: Int, name: Name, data: String) {
        self.messageID = messageID
        self.seq = seq
        self.name = name
        self.data = data
    }
}

/// Writes `text/event-stream` frames. The one place event text is produced, so the framing rules
/// live here: `id` and `event` may not contain CR or LF, `data` is always a single line.
enum ServerSentEventEncoder {
    static let preamble = "retry: 3000\n\n"
    static let ping = ": ping\n\n"

    static func frame(_ event: ReplyEvent) -> String {
        // Ids are ours and data is JSON, so neither can hold a line break; strip any anyway
        // rather than ever emit a frame that could split into two events. Only CR and LF end
        // an SSE line, so only they go (a U+2028 in the model's text is the model's text).
        "id: \(withoutLineBreaks(event.id))\nevent: \(event.name.rawValue)\ndata: \(withoutLineBreaks(event.data))\n\n"
    }

    private static func withoutLineBreaks(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return text }
        return String(decoding: text.utf8.filter { $0 != 0x0A && $0 != 0x0D }, as: UTF8.self)
    }

    static func buffer(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text)
    }
}

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
