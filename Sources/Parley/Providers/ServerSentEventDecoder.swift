/// One event of a `text/event-stream` (the WHATWG HTML "server-sent events" format).
struct ServerSentEvent: Equatable, Sendable {
    var event: String?
    var data: String
    var id: String?
}

/// Decodes a `text/event-stream` from byte chunks cut anywhere: inside a line, between `\r` and
/// `\n`, inside a multi-byte UTF-8 character.
///
/// Lines end with LF, CRLF or a lone CR. `data:` lines of one event are joined with `\n`;
/// comments (`:`…) and unknown fields are skipped; a blank line dispatches the event. Lines are
/// kept as bytes until complete and only then decoded, so a split character is never mangled.
/// A line longer than `maxLineBytes` is an error rather than unbounded memory.
struct ServerSentEventDecoder {
    struct LineTooLong: Error, Equatable {}

    let maxLineBytes: Int
    private var line: [UInt8] = []
    private var lastWasCR = false
    private var eventName: String?
    private var dataLines: [String] = []
    private var hasData = false
    private var lastID: String?

    init(maxLineBytes: Int = 1 << 20) {
        self.maxLineBytes = maxLineBytes
    }

    /// Feeds `bytes`; returns the events they complete.
    mutating func feed(_ bytes: some Sequence<UInt8>) throws(LineTooLong) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\n"):
                if lastWasCR {
                    lastWasCR = false  // the LF of a CRLF: the line already ended at the CR
                } else if let event = endLine() {
                    events.append(event)
                }
            case UInt8(ascii: "\r"):
                lastWasCR = true
                if let event = endLine() { events.append(event) }
            default:
                lastWasCR = false
                guard line.count < maxLineBytes else { throw LineTooLong() }
                line.append(byte)
            }
        }
        return events
    }

    /// At the end of the stream, an event without its closing blank line is discarded, as the
    /// format requires.
    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard hasData else {
                eventName = nil
                return nil
            }
            let event = ServerSentEvent(event: eventName, data: dataLines.joined(separator: "\n"), id: lastID)
            eventName = nil
            dataLines.removeAll()
            hasData = false
            return event
        }
        if line.first == UInt8(ascii: ":") { return nil }
        let field: String
        let value: String
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = String(decoding: line[..<colon], as: UTF8.self)
            var start = line.index(after: colon)
            if start < line.endIndex, line[start] == UInt8(ascii: " ") { start = line.index(after: start) }
            value = String(decoding: line[start...], as: UTF8.self)
        } else {
            field = String(decoding: line, as: UTF8.self)
            value = ""
        }
        switch field {
        case "data":
            dataLines.append(value)
            hasData = true
        case "event":
            eventName = value
        case "id":
            if !value.contains("\0") { lastID = value }
        default:
            break
        }
        return nil
    }
}
