import NIOCore

/// Writes one JSON object field by field, for bodies whose shape is known in advance and which
/// are written often: the provider request of every reply, and pages of history.
///
/// `JSONSerialization` boxes each value into `Any` and walks it back out, and `JSONEncoder` goes
/// through keyed containers for every field; this writes the bytes directly. Keys are string literals of
/// plain ASCII, written as they are; values go through `JSONStringLiteral`. The object is built
/// in `JSONBytes`, whose appends are cheaper than `ByteBuffer`'s (see `JSONByteOutput`), and
/// copied into a buffer once at the end.
struct JSONObjectWriter {
    private var output: JSONBytes
    private var isFirstField = true

    init(capacity: Int = 512) {
        output = JSONBytes(capacity: capacity)
        output.append(UInt8(ascii: "{"))
    }

    /// Writes one object at the end of `bytes`, for objects written one after another into one
    /// run of bytes, each in a place of its own (see `MessagePageWriter`). The bytes are swapped
    /// in and out, never copied: a second reference to them would make the next append copy
    /// every byte.
    static func appendObject(to bytes: inout JSONBytes, _ write: (inout JSONObjectWriter) -> Void) {
        var object = JSONObjectWriter(output: .placeholder)
        swap(&object.output, &bytes)
        object.nestedObject(write)
        swap(&object.output, &bytes)
    }

    private init(output: JSONBytes) {
        self.output = output
    }

    /// `value` alone, as JSON text (see `JSONValue.encodedText`).
    static func text(of value: JSONValue) -> String {
        var writer = JSONObjectWriter(output: JSONBytes(capacity: 128))
        writer.write(value)
        return writer.output.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// Text (a `String`, or text read in place from SQLite) as a JSON string, or `null` for nil.
    mutating func field(_ name: StaticString, _ value: (some JSONStringValue)?) {
        key(name)
        if let value { value.writeJSONString(into: &output) } else { output.append("null") }
    }

    mutating func nullField(_ name: StaticString) {
        key(name)
        output.append("null")
    }

    /// A time as `JSONBody.encoder` writes a `Date`: RFC 3339 in UTC, whole seconds
    /// (`2026-01-02T03:04:05Z`).
    mutating func field(_ name: StaticString, timeMilliseconds milliseconds: Int64) {
        key(name)
        let date = CivilDate(millisecondsSince1970: milliseconds)
        output.append(length: CivilDate.rfc3339Count + 2) { text in
            text[0] = UInt8(ascii: "\"")
            date.writeRFC3339(to: text + 1)
            text[CivilDate.rfc3339Count + 1] = UInt8(ascii: "\"")
        }
    }

    mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        writeInteger(Int64(value))
    }

    /// A finite number; JSON has no NaN or infinity, so those are written as `null`.
    mutating func field(_ name: StaticString, _ value: Double) {
        key(name)
        writeNumber(value)
    }

    mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        write(.bool(value))
    }

    /// Any JSON value, for the free-form parts (a token's metadata): object keys sorted, and
    /// numbers as `JSONValue`'s `Encodable` form writes them (integers without a fraction).
    mutating func field(_ name: StaticString, _ value: JSONValue) {
        key(name)
        write(value)
    }

    /// A nested object, whose fields `write` adds.
    mutating func field(_ name: StaticString, object write: (inout JSONObjectWriter) -> Void) {
        key(name)
        nestedObject(write)
    }

    /// An array of objects, one per element, whose fields `write` adds. Elements are passed by
    /// index, borrowed from the array, rather than copied out by an iterator.
    mutating func field<Element>(_ name: StaticString, objects elements: [Element], _ write: (inout JSONObjectWriter, Element) -> Void) {
        key(name)
        output.append(UInt8(ascii: "["))
        for index in elements.indices {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            nestedObject { write(&$0, elements[index]) }
        }
        output.append(UInt8(ascii: "]"))
    }

    /// The finished object.
    consuming func bytes() -> [UInt8] {
        output.append(UInt8(ascii: "}"))
        return output.array
    }

    /// The finished object, in a buffer of its own.
    consuming func byteBuffer() -> ByteBuffer {
        output.append(UInt8(ascii: "}"))
        return output.withUnsafeBytes { ByteBuffer(bytes: $0) }
    }

    private mutating func write(_ value: JSONValue) {
        switch value {
        case .null: output.append("null")
        case .bool(let flag): output.append(flag ? "true" : "false")
        case .number(let number):
            if let whole = JSONValue.wholeNumber(number) { writeInteger(whole) } else { writeNumber(number) }
        case .string(let text): JSONStringLiteral.write(text, into: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for index in elements.indices {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                write(elements[index])
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                JSONStringLiteral.write(member.key, into: &output)
                output.append(UInt8(ascii: ":"))
                write(member.value)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private mutating func writeInteger(_ value: Int64) {
        if value < 0 { output.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits = 1
        while magnitude >= 10 {
            magnitude /= 10
            digits += 1
        }
        output.appendDecimal(value.magnitude, digits: digits)
    }

    private mutating func writeNumber(_ value: Double) {
        guard value.isFinite else { return output.append("null") }
        var text = value.description
        // A whole number from 10^15 up: `description` writes "1000000000000000.0", JSONEncoder
        // leaves the fraction off.
        if text.hasSuffix(".0") { text.removeLast(2) }
        text.withUTF8 { output.append(UnsafeRawBufferPointer($0)) }
    }

    /// Writes `,"name":` (no comma before the first field) in one append: a page of history
    /// writes seven keys per message, and four appends each cost more than the bytes.
    private mutating func key(_ name: StaticString) {
        let comma = isFirstField ? 0 : 1
        let length = name.utf8CodeUnitCount
        output.append(length: comma + length + 3) { text in
            text[0] = UInt8(ascii: ",")
            text[comma] = UInt8(ascii: "\"")
            (text + comma + 1).initialize(from: name.utf8Start, count: length)
            text[comma + length + 1] = UInt8(ascii: "\"")
            text[comma + length + 2] = UInt8(ascii: ":")
        }
        isFirstField = false
    }

    private mutating func nestedObject(_ write: (inout JSONObjectWriter) -> Void) {
        output.append(UInt8(ascii: "{"))
        isFirstField = true
        write(&self)
        output.append(UInt8(ascii: "}"))
        isFirstField = false
    }
}

/// Text written as a JSON string literal: a `String`, or text read in place from SQLite.
protocol JSONStringValue {
    func writeJSONString(into output: inout some JSONByteOutput)
}

extension String: JSONStringValue {
    func writeJSONString(into output: inout some JSONByteOutput) {
        JSONStringLiteral.write(self, into: &output)
    }
}
