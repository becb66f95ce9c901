/// Reads a `chat.completion.chunk` in one pass over its bytes, for the shape providers send.
///
/// A streaming reply brings one chunk per token or two, for every reply in flight, and
/// `JSONDecoder` was the largest single cost of relaying them. The scanner answers only when it
/// is sure it reads the chunk exactly as `OpenAIAdapter.Chunk`'s `Decodable` conformance would;
/// for anything unusual (escaped keys, repeated members, odd types, fractional token counts,
/// malformed JSON) it returns `nil` and the caller decodes the chunk the ordinary way, which also
/// decides what is an error.
struct OpenAIChunkScanner {
    /// Not sure: let `JSONDecoder` decide.
    private struct Unsure: Error {}

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The chunk `text` holds, or `nil` when the scanner cannot be sure.
    static func scan(_ text: String) -> OpenAIAdapter.Chunk? {
        var text = text
        return text.withUTF8 { buffer in
            var scanner = OpenAIChunkScanner(buffer)
            return try? scanner.document()
        }
    }

    private mutating func document() throws(Unsure) -> OpenAIAdapter.Chunk {
        var chunk = OpenAIAdapter.Chunk(model: nil, choices: nil, usage: nil, hasError: false)
        var seen = Seen()
        try members { scanner, key throws(Unsure) in
            if key.spells("model") {
                try seen.first(0)
                // Read with `try?`: a model that is not a string is no model.
                if scanner.peek() == Byte.quote {
                    chunk.model = try scanner.string()
                } else {
                    try scanner.skipValue()
                }
            } else if key.spells("choices") {
                try seen.first(1)
                chunk.choices = try scanner.nullOr { scanner throws(Unsure) in try scanner.choices() }
            } else if key.spells("usage") {
                try seen.first(2)
                chunk.usage = try scanner.nullOr { scanner throws(Unsure) in try scanner.usage() }
            } else {
                if key.spells("error") { chunk.hasError = true }
                try scanner.skipValue()
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw Unsure() }
        return chunk
    }

    private mutating func choices() throws(Unsure) -> [OpenAIAdapter.Chunk.Choice] {
        var choices: [OpenAIAdapter.Chunk.Choice] = []
        try elements { scanner throws(Unsure) in
            var choice = OpenAIAdapter.Chunk.Choice(delta: nil, finishReason: nil)
            var seen = Seen()
            try scanner.members { scanner, key throws(Unsure) in
                if key.spells("delta") {
                    try seen.first(0)
                    choice.delta = try scanner.nullOr { scanner throws(Unsure) in
                        var delta = OpenAIAdapter.Chunk.Choice.Delta(content: nil)
                        var seen = Seen()
                        try scanner.members { scanner, key throws(Unsure) in
                            if key.spells("content") {
                                try seen.first(0)
                                delta.content = try scanner.nullOr { scanner throws(Unsure) in try scanner.string() }
                            } else {
                                try scanner.skipValue()
                            }
                        }
                        return delta
                    }
                } else if key.spells("finish_reason") {
                    try seen.first(1)
                    choice.finishReason = try scanner.nullOr { scanner throws(Unsure) in try scanner.string() }
                } else {
                    try scanner.skipValue()
                }
            }
            choices.append(choice)
        }
        return choices
    }

    private mutating func usage() throws(Unsure) -> OpenAIAdapter.Chunk.Usage {
        var usage = OpenAIAdapter.Chunk.Usage()
        var seen = Seen()
        try members { scanner, key throws(Unsure) in
            if key.spells("prompt_tokens") {
                try seen.first(0)
                usage.promptTokens = try scanner.nullOr { scanner throws(Unsure) in try scanner.integer() }
            } else if key.spells("completion_tokens") {
                try seen.first(1)
                usage.completionTokens = try scanner.nullOr { scanner throws(Unsure) in try scanner.integer() }
            } else {
                try scanner.skipValue()
            }
        }
        return usage
    }

    // MARK: JSON structure

    /// Calls `member` with each key of an object, positioned at the key's value.
    private mutating func members(
        _ member: (inout OpenAIChunkScanner, UnsafeBufferPointer<UInt8>) throws(Unsure) -> Void
    ) throws(Unsure) {
        try items(between: Byte.openBrace, and: Byte.closeBrace) { scanner throws(Unsure) in
            let key = try scanner.plainKey()
            scanner.skipWhitespace()
            try scanner.expect(Byte.colon)
            scanner.skipWhitespace()
            try member(&scanner, key)
        }
    }

    /// Calls `element` for each element of an array, positioned at it.
    private mutating func elements(_ element: (inout OpenAIChunkScanner) throws(Unsure) -> Void) throws(Unsure) {
        try items(between: Byte.openBracket, and: Byte.closeBracket, element)
    }

    /// Calls `item` for each comma-separated item between `opening` and `closing`.
    private mutating func items(
        between opening: UInt8, and closing: UInt8, _ item: (inout OpenAIChunkScanner) throws(Unsure) -> Void
    ) throws(Unsure) {
        try enter(opening)
        defer { depth -= 1 }
        skipWhitespace()
        if peek() == closing {
            index += 1
            return
        }
        repeat {
            skipWhitespace()
            try item(&self)
            skipWhitespace()
        } while try another(closing: closing)
    }

    private mutating func enter(_ opening: UInt8) throws(Unsure) {
        // JSONDecoder has a nesting limit of its own; chunks are shallow, so stay well inside it.
        guard depth < 32 else { throw Unsure() }
        try expect(opening)
        depth += 1
    }

    /// After a member or element: `true` past a comma, `false` past the closing bracket.
    private mutating func another(closing: UInt8) throws(Unsure) -> Bool {
        switch peek() {
        case Byte.comma:
            index += 1
            return true
        case closing:
            index += 1
            return false
        default:
            throw Unsure()
        }
    }

    private mutating func nullOr<Value>(_ value: (inout OpenAIChunkScanner) throws(Unsure) -> Value) throws(Unsure) -> Value? {
        if peek() == UInt8(ascii: "n") {
            try literal("null")
            return nil
        }
        return try value(&self)
    }

    private mutating func skipValue() throws(Unsure) {
        guard let byte = peek() else { throw Unsure() }
        switch byte {
        case Byte.quote: try skipString()
        case Byte.openBrace: try members { scanner, _ throws(Unsure) in try scanner.skipValue() }
        case Byte.openBracket: try elements { scanner throws(Unsure) in try scanner.skipValue() }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default: throw Unsure()
        }
    }

    // MARK: Tokens

    /// A key without escapes, as every provider writes them; the bytes between the quotes.
    private mutating func plainKey() throws(Unsure) -> UnsafeBufferPointer<UInt8> {
        try expect(Byte.quote)
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == Byte.quote {
                index += 1
                return UnsafeBufferPointer(rebasing: bytes[start..<index - 1])
            }
            guard byte != Byte.backslash, byte >= 0x20 else { throw Unsure() }
            index += 1
        }
        throw Unsure()
    }

    private mutating func string() throws(Unsure) -> String {
        try expect(Byte.quote)
        let start = index
        while index < bytes.count {
            switch bytes[index] {
            case Byte.quote:
                index += 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
            case Byte.backslash:
                index = start
                return String(decoding: try restOfString(keeping: true), as: UTF8.self)
            case ..<0x20:
                throw Unsure()
            default:
                index += 1
            }
        }
        throw Unsure()
    }

    /// A string's contents from just after its opening quote to past its closing one, escapes
    /// checked and, when `keeping`, decoded. The slow road for a string holding escapes, and the
    /// way strings nobody reads are skipped.
    private mutating func restOfString(keeping: Bool) throws(Unsure) -> [UInt8] {
        var decoded: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case Byte.quote:
                return decoded
            case Byte.backslash:
                guard index < bytes.count else { throw Unsure() }
                let escape = bytes[index]
                index += 1
                if escape == UInt8(ascii: "u") {
                    let scalar = try escapedScalar()
                    if keeping { decoded.append(contentsOf: String(scalar).utf8) }
                } else {
                    guard let unescaped = Byte.unescaped(escape) else { throw Unsure() }
                    if keeping { decoded.append(unescaped) }
                }
            case ..<0x20:
                throw Unsure()
            default:
                if keeping { decoded.append(byte) }
            }
        }
        throw Unsure()
    }

    /// The scalar of a `\u` escape whose `\u` was read; a surrogate pair takes two escapes.
    private mutating func escapedScalar() throws(Unsure) -> Unicode.Scalar {
        let unit = try hexUnit()
        switch unit {
        case 0xD800...0xDBFF:
            try literal(#"\u"#)
            let low = try hexUnit()
            guard (0xDC00...0xDFFF).contains(low) else { throw Unsure() }
            guard let scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)) else { throw Unsure() }
            return scalar
        case 0xDC00...0xDFFF:
            throw Unsure()
        default:
            guard let scalar = Unicode.Scalar(unit) else { throw Unsure() }
            return scalar
        }
    }

    private mutating func hexUnit() throws(Unsure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Unsure() }
        var unit: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Unsure()
            }
            unit = unit << 4 | UInt32(digit)
        }
        index += 4
        return unit
    }

    private mutating func skipString() throws(Unsure) {
        try expect(Byte.quote)
        _ = try restOfString(keeping: false)
    }

    /// A token count: digits with an optional minus, nothing fractional, within `Int`.
    private mutating func integer() throws(Unsure) -> Int {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        let digits = index
        while index < bytes.count, Byte.isDigit(bytes[index]) { index += 1 }
        guard index > digits, index - digits <= 18, bytes[digits] != UInt8(ascii: "0") || index - digits == 1 else { throw Unsure() }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) { throw Unsure() }
        guard let value = Int(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)) else {
            throw Unsure()
        }
        return value
    }

    /// Any JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func skipNumber() throws(Unsure) {
        if peek() == UInt8(ascii: "-") { index += 1 }
        if peek() == UInt8(ascii: "0") {
            index += 1
        } else {
            try digits()
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            try digits()
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            try digits()
        }
    }

    private mutating func digits() throws(Unsure) {
        let start = index
        while index < bytes.count, Byte.isDigit(bytes[index]) { index += 1 }
        guard index > start else { throw Unsure() }
    }

    private mutating func literal(_ word: StaticString) throws(Unsure) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count, UnsafeBufferPointer(rebasing: bytes[index..<index + count]).spells(word) else {
            throw Unsure()
        }
        index += count
    }

    private mutating func expect(_ byte: UInt8) throws(Unsure) {
        guard peek() == byte else { throw Unsure() }
        index += 1
    }

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, Byte.isWhitespace(bytes[index]) { index += 1 }
    }

    /// Which of an object's interesting keys have been read: a repeated one is left to
    /// `JSONDecoder`, whose choice between the two copies the scanner does not copy.
    private struct Seen {
        private var bits: UInt8 = 0

        mutating func first(_ key: UInt8) throws(Unsure) {
            guard bits & (1 << key) == 0 else { throw Unsure() }
            bits |= 1 << key
        }
    }

    private enum Byte {
        static let quote = UInt8(ascii: "\"")
        static let backslash = UInt8(ascii: "\\")
        static let colon = UInt8(ascii: ":")
        static let comma = UInt8(ascii: ",")
        static let openBrace = UInt8(ascii: "{")
        static let closeBrace = UInt8(ascii: "}")
        static let openBracket = UInt8(ascii: "[")
        static let closeBracket = UInt8(ascii: "]")

        /// The byte a one-letter escape (`\n`, `\"`, …) stands for.
        static func unescaped(_ escape: UInt8) -> UInt8? {
            switch escape {
            case quote, backslash, UInt8(ascii: "/"): escape
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "n"): 0x0A
            case UInt8(ascii: "r"): 0x0D
            case UInt8(ascii: "t"): 0x09
            default: nil
            }
        }

        static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether these bytes are exactly `name`'s: a length check, then a plain byte loop.
    /// `elementsEqual` against `String.UTF8View` walked the string's view generically, and the
    /// scanner asks this of every key of every chunk.
    fileprivate func spells(_ name: StaticString) -> Bool {
        guard count == name.utf8CodeUnitCount else { return false }
        let expected = name.utf8Start
        for offset in 0..<count where self[offset] != expected[offset] { return false }
        return true
    }
}
