import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

/// Reading JSON request bodies and writing JSON responses, with the contract's error codes for
/// every way a body can be wrong.
enum JSONBody {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Decodes the body as `T`.
    ///
    /// - Throws: 415 `unsupported_media_type` without `Content-Type: application/json`; 413
    ///   `payload_too_large` past `limit`; 400 `invalid_json` when it is not JSON; 400
    ///   `invalid_request` with `param` when a field is missing or of the wrong type.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int = RequestLimits.maxBodyBytes) async throws -> T {
        guard isJSON(request.headers[.contentType]) else { throw ParleyError.unsupportedMediaType }
        return try decode(type, from: try await bytes(of: request, limit: limit))
    }

    /// Like `decode(_:from:limit:)` for endpoints whose body is optional: a request with no body
    /// bytes gets `empty`, whatever its `Content-Type` (generated clients send
    /// `application/json` with an empty body when no field is set).
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, orIfAbsent empty: T) async throws -> T {
        let data = try await bytes(of: request, limit: RequestLimits.maxBodyBytes)
        if data.isEmpty { return empty }
        guard isJSON(request.headers[.contentType]) else { throw ParleyError.unsupportedMediaType }
        return try decode(type, from: data)
    }

    private static func bytes(of request: Request, limit: Int) async throws -> Data {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw ParleyError.payloadTooLarge(limit: limit)
        }
        do {
            return Data(try await request.body.collect(upTo: limit).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw ParleyError.payloadTooLarge(limit: limit)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        guard !data.isEmpty else { throw ParleyError.invalidJSON("The request body is empty; send a JSON object.") }
        // Checked whole, so that no part of the body passes unread: not even a field the route ignores.
        guard String(validating: data, as: UTF8.self) != nil else { throw ParleyError.invalidJSON("The request body is not valid UTF-8.") }
        if let key = JSONKeyCheck.firstDuplicateKey(in: data) {
            throw ParleyError.invalidJSON("The request body has the key \"\(key.prefix(64))\" twice in one object.")
        }
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw map(error)
        }
    }

    /// Whether `contentType` is `application/json`, in any case, with any parameters.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let mediaType = contentType?.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first else { return false }
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }

    /// Turns a `DecodingError` into the contract's shape, naming the field as a dotted path.
    static func map(_ error: DecodingError) -> ParleyError {
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            (codingPath + (last.map { [$0] } ?? [])).reduce(into: "") { result, key in
                if let index = key.intValue {
                    result += "[\(index)]"
                } else {
                    result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return .invalidJSON()
        case .dataCorrupted(let context):
            let param = path(context.codingPath)
            return .invalidRequest("\(param) is not valid", param: param)
        case .keyNotFound(let key, let context):
            let param = path(context.codingPath, key)
            return .invalidRequest("\(param) is required", param: param)
        case .valueNotFound(_, let context):
            let param = path(context.codingPath)
            return .invalidRequest("\(param) must not be null", param: param)
        case .typeMismatch(let expected, let context):
            let param = path(context.codingPath)
            if param.isEmpty { return .invalidRequest("The request body must be a JSON object.") }
            return .invalidRequest("\(param) must be \(describe(expected))", param: param)
        @unknown default:
            return .invalidJSON()
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "a boolean"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }

    /// A JSON response with the given status.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        response(json: ByteBuffer(bytes: try encoder.encode(value)), status: status, headers: headers)
    }

    /// A response of JSON already encoded.
    static func response(json: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(json.readableBytes)
        return Response(status: status, headers: fields, body: .init(byteBuffer: json))
    }
}

/// A field of a PATCH body: left out, set to `null`, or set to a value.
enum PatchField<Value: Sendable>: Sendable {
    case absent
    case null
    case value(Value)

    /// The new value given the current one.
    func applied(to current: Value?) -> Value? {
        switch self {
        case .absent: current
        case .null: nil
        case .value(let value): value
        }
    }
}

extension KeyedDecodingContainer {
    func decodePatch<Value: Decodable & Sendable>(_ type: Value.Type, forKey key: Key) throws -> PatchField<Value> {
        guard contains(key) else { return .absent }
        if try decodeNil(forKey: key) { return .null }
        return .value(try decode(type, forKey: key))
    }
}
