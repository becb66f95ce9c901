/// Base64url without padding (RFC 7515 §2), as JWS and JWK use it, appended byte by byte.
///
/// Each minted token encodes its header, claims and signature; going through
/// `base64EncodedString()` and three `replacingOccurrences` made a `String` four times over.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Appends the encoding of `bytes` to `output`: four characters for each three bytes, and two
    /// or three for a last group of one or two (no padding).
    static func append(_ bytes: some Collection<UInt8>, to output: inout [UInt8]) {
        output.reserveCapacity(output.count + (bytes.count * 4 + 2) / 3)
        var index = bytes.startIndex
        var remaining = bytes.count
        func next() -> UInt8 {
            defer { bytes.formIndex(after: &index) }
            return bytes[index]
        }
        while remaining > 0 {
            let first = next()
            let second = remaining > 1 ? next() : 0
            let third = remaining > 2 ? next() : 0
            output.append(alphabet[Int(first >> 2)])
            output.append(alphabet[Int((first & 0x03) << 4 | second >> 4)])
            if remaining > 1 { output.append(alphabet[Int((second & 0x0F) << 2 | third >> 6)]) }
            if remaining > 2 { output.append(alphabet[Int(third & 0x3F)]) }
            remaining -= 3
        }
    }

    static func encode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        append(bytes, to: &output)
        return output
    }
}
