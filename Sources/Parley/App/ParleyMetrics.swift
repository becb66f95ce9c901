import Foundation
import Prometheus

/// Parley's metrics, in one Prometheus registry owned by the application (no global state, so
/// several servers in one process, as in the tests, keep their own).
///
/// Exposed at `GET /metrics` (operator key) in the Prometheus text format.
final class ParleyMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]
    static let replyBuckets: [Duration] = [
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(120), .seconds(300),
    ]

    private func name(_ metric: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "parley", metricName: metric, unitName: unit, helpText: help)
    }

    func request(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: name("http_requests", unit: "total", help: "HTTP requests by route, method and status"),
            labels: [("route", route), ("method", method), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: name("http_request_duration", unit: "seconds", help: "Time to the response head, by route"),
            labels: [("route", route)], buckets: Self.latencyBuckets
        ).record(duration)
    }

    var openStreams: Gauge {
        registry.makeGauge(descriptor: name("sse_streams", unit: "open", help: "Reply streams currently open to browsers"))
    }

    func reply(outcome: String, timeToFirstToken: Duration?, duration: Duration, usage: TokenUsage) {
        registry.makeCounter(descriptor: name("replies", unit: "total", help: "Replies by outcome"), labels: [("outcome", outcome)]).increment()
        if let timeToFirstToken {
            registry.makeDurationHistogram(
                descriptor: name("provider_time_to_first_token", unit: "seconds", help: "From calling the provider to its first text"),
                labels: [], buckets: Self.replyBuckets
            ).record(timeToFirstToken)
        }
        registry.makeDurationHistogram(
            descriptor: name("reply_duration", unit: "seconds", help: "Whole reply generation time"), labels: [], buckets: Self.replyBuckets
        ).record(duration)
        let tokens = name("tokens", unit: "total", help: "Tokens sent to and received from providers")
        registry.makeCounter(descriptor: tokens, labels: [("direction", "input")]).increment(by: Int64(usage.inputTokens))
        registry.makeCounter(descriptor: tokens, labels: [("direction", "output")]).increment(by: Int64(usage.outputTokens))
    }

    func rateLimited(_ limit: String) {
        registry.makeCounter(descriptor: name("rate_limited", unit: "total", help: "Requests refused by a limit"), labels: [("limit", limit)])
            .increment()
    }

    func sqliteWrite(_ duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: name("sqlite_write_duration", unit: "seconds", help: "Time of SQLite write transactions (group commits, reply ends)"),
            labels: [], buckets: Self.latencyBuckets
        ).record(duration)
    }

    func render() -> String {
        registry.emitToString()
    }
}
