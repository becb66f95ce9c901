import Hummingbird
import Logging
import HTTPTypes

/// Headers every response carries: the request id, and the defaults that keep browsers from
/// sniffing types or caching API answers. A route that wants caching (the JWKS, later the
/// widget) sets its own `Cache-Control`, which is kept.
struct ResponseHeadersMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext

    static let requestID = HTTPField.Name("X-Request-Id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[Self.requestID] = context.requestID
        response.headers[.xContentTypeOptions] = "nosniff"
        if response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        return response
    }
}
