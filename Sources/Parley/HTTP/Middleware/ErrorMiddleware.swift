import Hummingbird
import HTTPTypes
import Logging

/// Turns every error thrown below it into the contract's JSON body (DESIGN.md §2), once.
///
/// `ParleyError` is rendered as it is. Hummingbird's own errors (no route, body too large) and
/// SQLite's busy or full database are mapped to their contract codes. Anything else is a bug:
/// logged with the request id, answered 500 with no detail.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext

    /// Told of every storage refusal, so `/readyz` knows when storage is full.
    let storageHealth: StorageHealth

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let parleyError = Self.classify(error, request: request, logger: context.logger, storageHealth: storageHealth)
            return try Self.render(parleyError, requestID: context.requestID)
        }
    }

    static func classify(_ error: any Error, request: Request, logger: Logger, storageHealth: StorageHealth) -> ParleyError {
        if let refusal = storageHealth.record(error) {
            logger.warning(refusal == .full ? "storage is full" : "storage busy", metadata: ["parley.error": "\(error)"])
            return refusal == .full ? .storageFull : .unavailable(retryAfter: 1)
        }
        switch error {
        case let error as ParleyError:
            return error
        case let error as any HTTPResponseError:
            switch error.status {
            case .notFound: return .notFound("No route for \(request.method) \(request.uri.path).")
            case .methodNotAllowed: return .methodNotAllowed
            case .contentTooLarge: return .payloadTooLarge(limit: RequestLimits.maxBodyBytes)
            case .unsupportedMediaType: return .unsupportedMediaType
            case .badRequest: return .invalidRequest("The request is malformed.")
            default: break
            }
            fallthrough
        default:
            logger.error("unhandled error", metadata: ["parley.error": "\(String(reflecting: error))"])
            return .internalError
        }
    }

    private struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
            var param: String?
            var requestID: String

            enum CodingKeys: String, CodingKey {
                case code, message, param
                case requestID = "request_id"
            }
        }

        var error: Detail
    }

    static func render(_ error: ParleyError, requestID: String) throws -> Response {
        var headers: HTTPFields = [:]
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        let body = Body(error: .init(code: error.code, message: error.message, param: error.param, requestID: requestID))
        return try JSONBody.response(body, status: error.status, headers: headers)
    }
}
