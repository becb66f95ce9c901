import Hummingbird
import Logging
import HTTPTypes

/// CORS for the browser-facing chat API (`/v1/…`).
///
/// A preflight carries no credential, so it cannot know the workspace: it is answered for any
/// origin. The real request is where the origin is enforced (`EmbedTokenAuthenticator` answers
/// 403 `origin_not_allowed` before any data is read), and every answer, errors included, names
/// the caller's origin so the widget can read `token_expired` and refresh. No cookies are used,
/// so credentials are never allowed.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext

    static let allowMethods = "GET, POST, PATCH, DELETE, OPTIONS"
    static let allowHeaders = "Authorization, Content-Type, Last-Event-ID"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/"), let origin = request.headers[.origin] else {
            return try await next(request, context)
        }
        if request.method == .options {
            var headers: HTTPFields = [:]
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowMethods] = Self.allowMethods
            headers[.accessControlAllowHeaders] = Self.allowHeaders
            headers[.accessControlMaxAge] = "600"
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = "X-Request-Id, Retry-After"
        response.headers[.vary] = "Origin"
        return response
    }
}
