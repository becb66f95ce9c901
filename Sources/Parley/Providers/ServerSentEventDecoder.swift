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
        let outcome = bytes.withContiguousStorageIfAvailable { feed($0, into: &events) }
            ?? Array(bytes).withUnsafeBufferPointer { feed($0, into: &events) }
        if case .failure(let error) = outcome { throw error }
        return events
    }

    /// Looks for line ends through a pointer and adds the bytes between them to the line a run
    /// at a time: every chunk of every reply passes here, and an append per byte was most of
    /// a chunk's parsing. Returns its failure rather than throwing it, since the closures it is
    /// called from would lose the error's type.
    private mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, into events: inout [ServerSentEvent]) -> Result<Void, LineTooLong> {
        var runStart = 0
        for index in bytes.indices {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") else { continue }
            if index > runStart {
                guard extendLine(with: UnsafeBufferPointer(rebasing: bytes[runStart..<index])) else { return .failure(LineTooLong()) }
            }
            runStart = index + 1
            if byte == UInt8(ascii: "\r") {
                lastWasCR = true
                if let event = endLine() { events.append(event) }
            } else if lastWasCR {
                lastWasCR = false  // the LF of a CRLF: the line already ended at the CR
            } else if let event = endLine() {
                events.append(event)
            }
        }
        if runStart < bytes.count {
            guard extendLine(with: UnsafeBufferPointer(rebasing: bytes[runStart...])) else { return .failure(LineTooLong()) }
        }
        return .success(())
    }

    /// Adds bytes that end no line; false if the line would pass `maxLineBytes`.
    private mutating func extendLine(with run: UnsafeBufferPointer<UInt8>) -> Bool {
        guard line.count + run.count <= maxLineBytes else { return false }
        line.append(contentsOf: run)
        lastWasCR = false
        return true
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
