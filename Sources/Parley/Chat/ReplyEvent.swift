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
        self.messageID = messageID
        self.seq = seq
        self.name = name
        self.data = String(decoding: try JSONBody.encoder.encode(payload), as: UTF8.self)
    }
}

/// Writes `text/event-stream` frames. The one place event text is produced, so the framing rules
/// live here: `id` and `event` may not contain CR or LF, `data` is always a single line.
enum ServerSentEventEncoder {
    static let preamble = "retry: 3000\n\n"
    static let ping = ": ping\n\n"

    static func frame(_ event: ReplyEvent) -> String {
        // Ids are ours and data is JSON, so neither can hold a line break; strip any anyway
        // rather than ever emit a frame that could split into two events.
        let id = event.id.filter { !$0.isNewline }
        let data = event.data.filter { !$0.isNewline }
        return "id: \(id)\nevent: \(event.name.rawValue)\ndata: \(data)\n\n"
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
