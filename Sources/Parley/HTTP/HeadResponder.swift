import HTTPTypes
import Hummingbird

/// Answers `HEAD` on every `GET` route as the route answers `GET`, with the same status and
/// headers (`Content-Length` included) and no body (RFC 9110 §9.3.2): uptime checks and caches
/// probe with it. It wraps the whole router, because the router picks a route by method before
/// any of its middleware runs.
struct HeadResponder<Wrapped: HTTPResponder>: HTTPResponder {
    typealias Context = Wrapped.Context
    let wrapped: Wrapped

    func respond(to request: Request, context: Context) async throws -> Response {
        guard request.method == .head else { return try await wrapped.respond(to: request, context: context) }
        var head = request.head
        head.method = .get
        let response = try await wrapped.respond(to: Request(head: head, body: request.body), context: context)
        return Response(status: response.status, headers: response.headers, body: ResponseBody())
    }
}
