import Foundation

/// Finds an object key that appears twice in one object of a JSON document.
///
/// `JSONDecoder` keeps the first of two equal keys and says nothing, so a body could carry a
/// second, different value that another reader of the same bytes would take. Parley refuses such
/// bodies outright. The walk trusts the decoder with the grammar: it only follows strings,
/// nesting and which strings are keys.
enum JSONKeyCheck {
    /// The first key repeated within one object, or `nil`.
    static func firstDuplicateKey(in bytes: some Collection<UInt8>) -> String? {
        let bytes = Array(bytes)
        // One entry per open container: the keys seen so far, or nil for an array.
        var containers: [Set<[UInt8]>?] = []
        var expectingKey = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"):
                containers.append([])
                expectingKey = true
            case UInt8(ascii: "["):
                containers.append(nil)
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !containers.isEmpty { containers.removeLast() }
                expectingKey = false
            case UInt8(ascii: ","):
                expectingKey = containers.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                var end = index + 1
                var escaped = false
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") || escaped {
                    escaped = !escaped && bytes[end] == UInt8(ascii: "\\")
                    end += 1
                }
                if expectingKey, var keys = containers.last ?? nil {
                    let key = canonical(Array(bytes[index...min(end, bytes.count - 1)]))
                    if !keys.insert(key).inserted { return String(decoding: key, as: UTF8.self) }
                    containers[containers.count - 1] = keys
                    expectingKey = false
                }
                index = end
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// A key's text with escapes resolved, so `"a"` and `"\u0061"` count as one key.
    private static func canonical(_ quoted: [UInt8]) -> [UInt8] {
        guard quoted.contains(UInt8(ascii: "\\")),
            let text = try? JSONSerialization.jsonObject(with: Data(quoted), options: .fragmentsAllowed) as? String
        else { return Array(quoted.dropFirst().dropLast()) }
        return Array(text.utf8)
    }
}
