/// Base64url without padding (RFC 7515 §2), as JWS and JWK use it, appended byte by byte.
///
/// Each minted token encodes its header, claims and signature; going through
/// `base64EncodedString()` and three `replacingOccurrences` made a `String` four times over.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Appends the encoding of `bytes` to `output`.
    static func append(_ bytes: some Collection<UInt8>, to output: inout [UInt8]) {
        output.reserveCapacity(output.count + (bytes.count * 4 + 2) / 3)
        var index = bytes.startIndex
        var remaining = bytes.count
        while remaining >= 3 {
            let first = bytes[index]
            bytes.formIndex(after: &index)
            let second = bytes[index]
            bytes.formIndex(after: &index)
            let third = bytes[index]
            bytes.formIndex(after: &index)
            output.append(alphabet[Int(first >> 2)])
            output.append(alphabet[Int((first & 0x03) << 4 | second >> 4)])
            output.append(alphabet[Int((second & 0x0F) << 2 | third >> 6)])
            output.append(alphabet[Int(third & 0x3F)])
            remaining -= 3
        }
        if remaining == 2 {
            let first = bytes[index]
            let second = bytes[bytes.index(after: index)]
            output.append(alphabet[Int(first >> 2)])
            output.append(alphabet[Int((first & 0x03) << 4 | second >> 4)])
            output.append(alphabet[Int((second & 0x0F) << 2)])
        } else if remaining == 1 {
            let first = bytes[index]
            output.append(alphabet[Int(first >> 2)])
            output.append(alphabet[Int((first & 0x03) << 4)])
        }
    }

    static func encode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        append(bytes, to: &output)
        return output
    }
}
