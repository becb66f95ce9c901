import NIOCore

/// Writes one JSON object field by field, for bodies whose shape is known in advance (the
/// provider requests of every reply).
///
/// `JSONSerialization` boxes each value into `Any` and walks it back out, about a tenth of a
/// millisecond per request body; this writes the bytes directly. Keys are string literals of
/// plain ASCII, written as they are; values go through `JSONStringLiteral`.
struct JSONObjectWriter {
    private var buffer = ByteBuffer()
    private var isFirstField = true

    init() {
        buffer.reserveCapacity(512)
        buffer.writeInteger(UInt8(ascii: "{"))
    }

    mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        JSONStringLiteral.write(value, into: &buffer)
    }

    mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        buffer.writeString(String(value))
    }

    /// A finite number; JSON has no NaN or infinity, so those are written as `null`.
    mutating func field(_ name: StaticString, _ value: Double) {
        key(name)
        if value.isFinite { buffer.writeString(value.description) } else { buffer.writeStaticString("null") }
    }

    mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        buffer.writeStaticString(value ? "true" : "false")
    }

    /// A nested object, whose fields `write` adds.
    mutating func field(_ name: StaticString, object write: (inout JSONObjectWriter) -> Void) {
        key(name)
        nestedObject(write)
    }

    /// An array of objects, one per element, whose fields `write` adds.
    mutating func field<Elements: Sequence>(
        _ name: StaticString, objects elements: Elements, _ write: (inout JSONObjectWriter, Elements.Element) -> Void
    ) {
        key(name)
        buffer.writeInteger(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            nestedObject { write(&$0, element) }
        }
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// The finished object.
    consuming func bytes() -> [UInt8] {
        buffer.writeInteger(UInt8(ascii: "}"))
        return Array(buffer.readableBytesView)
    }

    private mutating func key(_ name: StaticString) {
        if !isFirstField { buffer.writeInteger(UInt8(ascii: ",")) }
        isFirstField = false
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(name)
        buffer.writeStaticString("\":")
    }

    private mutating func nestedObject(_ write: (inout JSONObjectWriter) -> Void) {
        buffer.writeInteger(UInt8(ascii: "{"))
        isFirstField = true
        write(&self)
        buffer.writeInteger(UInt8(ascii: "}"))
        isFirstField = false
    }
}
