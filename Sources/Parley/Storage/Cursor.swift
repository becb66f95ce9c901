import Foundation

/// Opaque pagination cursors: the sort key of the last row of a page, base64url-encoded so
/// clients treat it as a token rather than something to build by hand.
enum Cursor {
    static func encode(_ parts: [String]) -> String {
        Data(parts.joined(separator: "\u{1F}").utf8).base64URLEncoded
    }

    /// - Throws: `invalid_request` (param `cursor`) for anything `encode` did not produce.
    static func decode(_ cursor: String, parts count: Int) throws -> [String] {
        guard cursor.utf8.count <= 512, let data = Data(base64URLEncoded: cursor),
            let text = String(data: data, encoding: .utf8)
        else { throw ParleyError.invalidRequest("cursor is not valid", param: "cursor") }
        let parts = text.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == count else { throw ParleyError.invalidRequest("cursor is not valid", param: "cursor") }
        return parts
    }

    static func decodeInteger(_ cursor: String) throws -> Int64 {
        guard let value = Int64(try decode(cursor, parts: 1)[0]) else {
            throw ParleyError.invalidRequest("cursor is not valid", param: "cursor")
        }
        return value
    }
}
