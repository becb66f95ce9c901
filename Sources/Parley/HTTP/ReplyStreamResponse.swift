import Foundation
import HTTPTypes
import Prometheus
import Hummingbird
import ServiceLifecycle
import Synchronization

/// Streams a reply's events to one HTTP client as `text/event-stream`.
///
/// The response follows the run, not the other way round: when the client goes away the write
/// fails and only this subscription ends; the reply goes on. While nothing else is sent, a
/// `: ping` comment goes out so no proxy closes an idle stream (at most `pingInterval` of
/// silence). Every `checkInterval` the token is checked again, so a revoked token's stream ends
/// within that time. Graceful shutdown ends the stream (the client resumes elsewhere).
struct ReplyStreamResponse {
    var pingInterval: Duration = .seconds(15)
    var checkInterval: Duration = .seconds(5)
    /// Counts open streams (metrics), when given.
    var openStreams: Gauge?

    private enum Outbound: Sendable {
        case event(ReplyEvent)
        case tick
        case end
    }

    /// - Parameters:
    ///   - run: the reply to follow: its events after `after` (all for `nil`), then live ones.
    ///   - stillAuthorized: asked every `checkInterval`; `false` ends the stream.
    func response(following run: ReplyRun, after: Int?, stillAuthorized: @escaping @Sendable () async -> Bool) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let pingInterval = self.pingInterval
        let checkInterval = self.checkInterval
        let openStreams = self.openStreams
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                openStreams?.increment()
                defer { openStreams?.decrement() }
                let (mailbox, input) = AsyncStream.makeStream(of: Outbound.self)
                let unsubscribe = run.subscribe(
                    after: after, .init(deliver: { input.yield(.event($0)) }, finish: { input.yield(.end) }))
                defer { unsubscribe() }
                try await withGracefulShutdownHandler {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            while true {
                                try await Task.sleep(for: checkInterval)
                                guard await stillAuthorized() else {
                                    input.yield(.end)
                                    return
                                }
                                input.yield(.tick)
                            }
                        }
                        try await writer.write(ServerSentEventEncoder.preamble)
                        var lastWrite = ContinuousClock.now
                        loop: for await item in mailbox {
                            switch item {
                            case .event(let event):
                                try await writer.write(event.frame)
                                lastWrite = .now
                                if event.isTerminal { break loop }
                            case .tick:
                                if ContinuousClock.now - lastWrite >= pingInterval - checkInterval {
                                    try await writer.write(ServerSentEventEncoder.ping)
                                    lastWrite = .now
                                }
                            case .end:
                                break loop
                            }
                        }
                        group.cancelAll()
                    }
                } onGracefulShutdown: {
                    input.yield(.end)
                }
                try await writer.finish(nil)
            })
    }
}
