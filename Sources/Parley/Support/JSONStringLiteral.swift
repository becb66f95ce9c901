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
    /// escape (nearly all of them) are copied in one go, and found eight bytes at a time.
    static func write(_ text: String, into output: inout ByteBuffer) {
        var text = text
        text.withUTF8 { write(utf8: UnsafeRawBufferPointer($0), into: &output) }
    }

    /// Appends text given as UTF-8 bytes, which must be valid UTF-8 (they are copied as they are).
    static func write(utf8 raw: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        output.reserveCapacity(minimumWritableBytes: raw.count + 2)
        output.writeInteger(UInt8(ascii: "\""))
        var verbatimFrom = 0
        var offset = 0
        while offset < raw.count {
            while offset + 8 <= raw.count, !mayNeedEscape(raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) {
                offset += 8
            }
            guard offset < raw.count else { break }
            let byte = raw[offset]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                output.writeBytes(UnsafeRawBufferPointer(rebasing: raw[verbatimFrom..<offset]))
                verbatimFrom = offset + 1
                writeEscape(of: byte, into: &output)
            }
            offset += 1
        }
        output.writeBytes(UnsafeRawBufferPointer(rebasing: raw[verbatimFrom...]))
        output.writeInteger(UInt8(ascii: "\""))
    }

    private static func writeEscape(of byte: UInt8, into output: inout ByteBuffer) {
        output.writeInteger(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.writeInteger(byte)
        case 0x0A: output.writeInteger(UInt8(ascii: "n"))
        case 0x0D: output.writeInteger(UInt8(ascii: "r"))
        case 0x09: output.writeInteger(UInt8(ascii: "t"))
        case 0x08: output.writeInteger(UInt8(ascii: "b"))
        case 0x0C: output.writeInteger(UInt8(ascii: "f"))
        default:
            output.writeStaticString("u00")
            output.writeInteger(Data.hexDigits[Int(byte >> 4)])
            output.writeInteger(Data.hexDigits[Int(byte & 0x0F)])
        }
    }

    /// Whether any of the eight bytes in `word` is below 0x20, a quote or a backslash; the
    /// quote and the backslash are first turned into zero bytes by an exclusive or.
    ///
    /// "Has a byte below n" subtracts n from every byte at once and keeps each byte's high bit
    /// where the byte itself had it clear. The answer is exact: with no byte below n nothing
    /// borrows and no such bit survives, and the lowest byte below n always keeps its bit.
    static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        func hasByteBelow(_ n: UInt8, in word: UInt64) -> Bool {
            (word &- ones &* UInt64(n)) & ~word & highBits != 0
        }
        return hasByteBelow(0x20, in: word) || hasByteBelow(1, in: word ^ (ones &* 0x22)) || hasByteBelow(1, in: word ^ (ones &* 0x5C))
    }
}
