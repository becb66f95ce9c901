import Hummingbird

/// Counts every request by matched route (the template, never the ids in it), method and status,
/// and times it to the response head.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext

    let metrics: ParleyMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        metrics.request(
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code,
            duration: ContinuousClock.now - started)
        return response
    }
}
