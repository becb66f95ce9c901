import Foundation
import NIOCore

/// A string as a JSON string literal, written by hand for the one hot path that needs it: every
/// `response.delta` event of every stream. `JSONEncoder` costs several microseconds per call
/// (boxing, metadata lookups, a `Data` round trip); this is a single pass over UTF-8.
///
/// The output matches `JSONBody.encoder` (`.withoutEscapingSlashes`): `"` and `\` escaped,
/// control characters as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`, everything else verbatim.
/// So the literal never holds a raw line break, which keeps each SSE `data:` line whole.
enum JSONStringLiteral {
    /// Appends `text` as a JSON string literal, quotes included. Runs of bytes that need no
    /// escape (nearly all of them) are copied in one go.
    static func write(_ text: String, into buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { bytes in
            buffer.reserveCapacity(minimumWritableBytes: bytes.count + 2)
            buffer.writeInteger(UInt8(ascii: "\""))
            var verbatimFrom = 0
            for (offset, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[verbatimFrom..<offset]))
                verbatimFrom = offset + 1
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): buffer.writeEscape(byte)
                case 0x0A: buffer.writeEscape(UInt8(ascii: "n"))
                case 0x0D: buffer.writeEscape(UInt8(ascii: "r"))
                case 0x09: buffer.writeEscape(UInt8(ascii: "t"))
                case 0x08: buffer.writeEscape(UInt8(ascii: "b"))
                case 0x0C: buffer.writeEscape(UInt8(ascii: "f"))
                default:
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(Data.hexDigits[Int(byte >> 4)])
                    buffer.writeInteger(Data.hexDigits[Int(byte & 0x0F)])
                }
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[verbatimFrom...]))
            buffer.writeInteger(UInt8(ascii: "\""))
        }
    }
}

extension ByteBuffer {
    fileprivate mutating func writeEscape(_ byte: UInt8) {
        writeInteger(UInt8(ascii: "\\"))
        writeInteger(byte)
    }
}
