import HTTPTypes

/// Every failure a client can see, as the `{"error": {…}}` body of DESIGN.md §2.
///
/// Code anywhere in Parley throws one of the static members; `ErrorMiddleware` turns it into a
/// response once, adding the request id. Any other error becomes a logged 500 whose body says
/// nothing about the cause.
public struct ParleyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The contract's error codes. Private so that new codes are added here, next to their status.
    private enum Code: String, Sendable {
        case invalidRequest = "invalid_request"
        case invalidJSON = "invalid_json"
        case missingToken = "missing_token"
        case invalidToken = "invalid_token"
        case tokenExpired = "token_expired"
        case tokenRevoked = "token_revoked"
        case invalidAPIKey = "invalid_api_key"
        case forbidden
        case originNotAllowed = "origin_not_allowed"
        case invalidSignature = "invalid_signature"
        case linkExpired = "link_expired"
        case workspaceNotFound = "workspace_not_found"
        case notFound = "not_found"
        case conflict
        case payloadTooLarge = "payload_too_large"
        case unsupportedMediaType = "unsupported_media_type"
        case rateLimited = "rate_limited"
        case upstreamError = "upstream_error"
        case unavailable
        case methodNotAllowed = "method_not_allowed"
        case internalError = "internal_error"

        var status: HTTPResponse.Status {
            switch self {
            case .invalidRequest, .invalidJSON: .badRequest
            case .missingToken, .invalidToken, .tokenExpired, .tokenRevoked, .invalidAPIKey: .unauthorized
            case .forbidden, .originNotAllowed, .invalidSignature, .linkExpired: .forbidden
            case .workspaceNotFound, .notFound: .notFound
            case .methodNotAllowed: .methodNotAllowed
            case .conflict: .conflict
            case .payloadTooLarge: .contentTooLarge
            case .unsupportedMediaType: .unsupportedMediaType
            case .rateLimited: .tooManyRequests
            case .upstreamError: .badGateway
            case .unavailable: .serviceUnavailable
            case .internalError: .internalServerError
            }
        }
    }

    private let kind: Code
    /// Safe to show to the caller: never a secret, never a provider's own words.
    public let message: String
    /// The offending field, for `invalid_request`.
    public let param: String?
    /// Seconds, sent as `Retry-After` with 429 and 503.
    public let retryAfter: Int?

    private init(_ kind: Code, _ message: String, param: String? = nil, retryAfter: Int? = nil) {
        self.kind = kind
        self.message = message
        self.param = param
        self.retryAfter = retryAfter
    }

    public var code: String { kind.rawValue }
    public var status: HTTPResponse.Status { kind.status }
    public var description: String { "\(code): \(message)" }

    public static func invalidRequest(_ message: String, param: String? = nil) -> Self {
        .init(.invalidRequest, message, param: param)
    }
    public static func invalidJSON(_ message: String = "The request body is not valid JSON.") -> Self {
        .init(.invalidJSON, message)
    }
    public static let missingToken = Self(.missingToken, "This endpoint needs an Authorization: Bearer credential.")
    public static func invalidToken(_ message: String = "The token is malformed or its signature does not verify.") -> Self {
        .init(.invalidToken, message)
    }
    public static let tokenExpired = Self(.tokenExpired, "The token has expired; fetch a new one.")
    public static let tokenRevoked = Self(.tokenRevoked, "The token has been revoked.")
    /// One body for unknown, malformed and revoked keys, so the answer does not tell them apart.
    public static let invalidAPIKey = Self(.invalidAPIKey, "The API key is not valid.")
    public static func forbidden(_ message: String = "This credential does not have the scope for this request.") -> Self {
        .init(.forbidden, message)
    }
    public static let originNotAllowed = Self(.originNotAllowed, "This page's origin is not in the workspace's allowed origins.")
    public static let invalidSignature = Self(.invalidSignature, "The link's signature is not valid.")
    public static let linkExpired = Self(.linkExpired, "The link has expired.")
    public static let workspaceNotFound = Self(.workspaceNotFound, "No such workspace.")
    public static func notFound(_ message: String = "Not found.") -> Self { .init(.notFound, message) }
    public static let methodNotAllowed = Self(.methodNotAllowed, "This method is not allowed on this path.")
    public static func conflict(_ message: String) -> Self { .init(.conflict, message) }
    public static func payloadTooLarge(limit: Int) -> Self {
        .init(.payloadTooLarge, "The request body is larger than \(limit) bytes.")
    }
    public static let unsupportedMediaType = Self(.unsupportedMediaType, "Send the body as Content-Type: application/json.")
    public static func rateLimited(retryAfter seconds: Int) -> Self {
        .init(.rateLimited, "Too many requests; retry after \(seconds) s.", retryAfter: max(1, seconds))
    }
    public static func upstreamError(_ message: String = "The model provider failed.") -> Self { .init(.upstreamError, message) }
    public static func unavailable(retryAfter seconds: Int = 1) -> Self {
        .init(.unavailable, "Storage is busy; retry shortly.", retryAfter: max(1, seconds))
    }
    /// The storage refuses writes for lack of space: nothing new can be stored until an operator frees some.
    public static let storageFull = Self(.unavailable, "Storage is full; nothing new can be saved until space is freed.", retryAfter: 30)
    public static let internalError = Self(.internalError, "Something went wrong on our side; the request id identifies it in our logs.")
}
