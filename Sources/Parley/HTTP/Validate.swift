import Foundation

/// Field checks shared by the request bodies. Each throws `invalid_request` naming the field.
enum Validate {
    /// A required text field: trimmed of nothing, but never empty, never longer than `maxLength`
    /// characters, and free of control characters (which have no place in ids or names and can
    /// forge log lines).
    static func text(_ value: String, param: String, maxLength: Int, allowNewlines: Bool = false) throws -> String {
        guard !value.isEmpty else { throw ParleyError.invalidRequest("\(param) must not be empty", param: param) }
        guard value.count <= maxLength else {
            throw ParleyError.invalidRequest("\(param) must be at most \(maxLength) characters", param: param)
        }
        let forbidden = value.unicodeScalars.contains { scalar in
            let isControl = scalar.properties.generalCategory == .control
            return isControl && !(allowNewlines && (scalar == "\n" || scalar == "\r" || scalar == "\t"))
        }
        guard !forbidden else { throw ParleyError.invalidRequest("\(param) must not contain control characters", param: param) }
        return value
    }

    static func optionalText(_ value: String?, param: String, maxLength: Int, allowNewlines: Bool = false) throws -> String? {
        try value.map { try text($0, param: param, maxLength: maxLength, allowNewlines: allowNewlines) }
    }

    static func integer(_ value: Int, param: String, in range: ClosedRange<Int>) throws -> Int {
        guard range.contains(value) else {
            throw ParleyError.invalidRequest("\(param) must be between \(range.lowerBound) and \(range.upperBound)", param: param)
        }
        return value
    }

    static func number(_ value: Double, param: String, in range: ClosedRange<Double>) throws -> Double {
        guard value.isFinite, range.contains(value) else {
            throw ParleyError.invalidRequest("\(param) must be between \(range.lowerBound) and \(range.upperBound)", param: param)
        }
        return value
    }

    /// Free-form metadata: a JSON object of at most 4 KiB, so tokens stay small.
    static func metadata(_ value: [String: JSONValue]?, param: String) throws -> [String: JSONValue]? {
        guard let value else { return nil }
        guard try JSONBody.encoder.encode(JSONValue.object(value)).count <= 4096 else {
            throw ParleyError.invalidRequest("\(param) must encode to at most 4096 bytes of JSON", param: param)
        }
        return value
    }

    /// An id the admin chooses for a workspace: `[A-Za-z0-9_-]{1,64}`.
    static func workspaceID(_ value: String, param: String) throws -> String {
        let valid = (1...64).contains(value.utf8.count)
            && value.utf8.allSatisfy { RandomToken.isBase62($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
        guard valid else { throw ParleyError.invalidRequest("\(param) must match [A-Za-z0-9_-]{1,64}", param: param) }
        return value
    }

    static func allowedOrigins(_ values: [String], param: String) throws -> [String] {
        guard values.count <= 100 else { throw ParleyError.invalidRequest("\(param) may list at most 100 origins", param: param) }
        var seen: [String] = []
        for (index, value) in values.enumerated() {
            guard let origin = Origin.parseAllowListEntry(value) else {
                throw ParleyError.invalidRequest(
                    "\(param)[\(index)] must be an origin such as https://app.example.com", param: "\(param)[\(index)]")
            }
            if !seen.contains(origin) { seen.append(origin) }
        }
        return seen
    }

    /// `#rgb` or `#rrggbb`.
    static func color(_ value: String?, param: String) throws -> String? {
        guard let value else { return nil }
        let digits = value.dropFirst()
        guard value.first == "#", digits.count == 3 || digits.count == 6, digits.allSatisfy(\.isHexDigit) else {
            throw ParleyError.invalidRequest("\(param) must be a color such as #1f6feb", param: param)
        }
        return value
    }

    static func oneOf(_ value: String?, _ choices: [String], param: String) throws -> String? {
        guard let value else { return nil }
        guard choices.contains(value) else {
            throw ParleyError.invalidRequest("\(param) must be one of \(choices.joined(separator: ", "))", param: param)
        }
        return value
    }

    /// Page sizes: 1 … 100, `fallback` when absent.
    static func limit(_ raw: String?, fallback: Int = 20) throws -> Int {
        guard let raw else { return fallback }
        guard let value = Int(raw), (1...100).contains(value) else {
            throw ParleyError.invalidRequest("limit must be an integer between 1 and 100", param: "limit")
        }
        return value
    }
}
