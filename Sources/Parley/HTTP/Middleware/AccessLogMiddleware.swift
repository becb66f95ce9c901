import Hummingbird
import Logging

/// One log line per request, with credentials in the query redacted and the request id in the
/// metadata, so an operator can match a client's `request_id` to what happened.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - started
        context.logger.info(
            "request",
            metadata: [
                "http.method": "\(request.method)",
                "http.target": "\(Redaction.redactQuery(request.uri.description))",
                "http.status": "\(response.status.code)",
                "http.duration_ms": "\(elapsed.wholeMilliseconds)",
            ])
        return response
    }
}
