import Crypto
import Foundation

/// Random identifiers and secrets.
///
/// Every character comes from `SystemRandomNumberGenerator`, which reads the kernel's CSPRNG
/// (`getrandom(2)` on Linux), so ids cannot be guessed from earlier ones and secrets carry
/// `length × log2(62)` bits (32 characters ≈ 190 bits).
package enum RandomToken {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// `length` base62 characters, each drawn without modulo bias.
    ///
    /// Each 64-bit draw (one `getrandom` call) yields eight bytes; a byte below 248 (= 4 × 62)
    /// picks a character, a higher one is discarded, so every character is equally likely.
    static func base62(_ length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(length)
        while bytes.count < length {
            var draw = generator.next()
            for _ in 0..<8 where bytes.count < length {
                let byte = UInt8(truncatingIfNeeded: draw)
                draw >>= 8
                if byte < 248 { bytes.append(alphabet[Int(byte % 62)]) }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A public id such as `ws_…`, `bot_…`, `conv_…`: the prefix and 20 base62 characters.
    static func id(_ prefix: String) -> String {
        prefix + base62(20)
    }

    /// An id of the same shape as `id(_:)` whose first eight characters are the time in
    /// milliseconds (base62, fixed width, so byte order is time order until the year 8800) and
    /// whose last twelve are random (71 bits).
    ///
    /// For rows inserted at a high rate under a random-looking key (issued tokens' `jti`): keys
    /// that grow with time land on the index's last page, so each insert dirties the page the
    /// previous one did instead of a random page of an index larger than SQLite's cache, and a
    /// group commit writes a handful of pages to the log rather than one per row.
    package static func timeOrderedID(_ prefix: String, at milliseconds: Int64) -> String {
        var time = UInt64(max(0, milliseconds))
        var characters = [UInt8](repeating: alphabet[0], count: 8)
        for index in characters.indices.reversed() {
            characters[index] = alphabet[Int(time % 62)]
            time /= 62
        }
        return prefix + String(decoding: characters, as: UTF8.self) + base62(12)
    }

    static func isBase62(_ text: Substring) -> Bool {
        text.utf8.allSatisfy(isBase62)
    }

    static func isBase62(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}

extension Data {
    /// Compares two byte strings in time that depends only on their lengths, so a timing
    /// observer learns nothing about where they differ.
    func constantTimeEquals(_ other: Data) -> Bool {
        guard count == other.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(self, other) {
            difference |= left ^ right
        }
        return difference == 0
    }

    /// Base64url without padding (RFC 7515 §2), as JWK and JWT use it.
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    init?(base64URLEncoded text: some StringProtocol) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }

    /// Lowercase hex, two digits a byte. (`String(format:)` per byte costs a locale lookup each.)
    var hexEncoded: String {
        String(unsafeUninitializedCapacity: count * 2) { output in
            for (index, byte) in enumerated() {
                output[index * 2] = Self.hexDigits[Int(byte >> 4)]
                output[index * 2 + 1] = Self.hexDigits[Int(byte & 0x0F)]
            }
            return count * 2
        }
    }

    /// The sixteen lowercase hex digits, as UTF-8.
    static let hexDigits = Array("0123456789abcdef".utf8)
}

enum Digest256 {
    static func sha256(_ text: String) -> Data {
        Data(SHA256.hash(data: Data(text.utf8)))
    }
}
