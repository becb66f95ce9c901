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
        /// Frames are waiting in the `PendingFrames`.
        case frames
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
                let pending = PendingFrames()
                let unsubscribe = run.subscribe(
                    after: after,
                    .init(
                        deliver: { event in if pending.add(event) { input.yield(.frames) } },
                        finish: { input.yield(.end) }))
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
                        // The events replayed on subscribing go out with the preamble, in one write.
                        var opening = ServerSentEventEncoder.preamble
                        if let replayed = pending.take().0 { opening.writeImmutableBuffer(replayed) }
                        try await writer.write(opening)
                        var lastWrite = ContinuousClock.now
                        loop: for await item in mailbox {
                            switch item {
                            case .frames:
                                let (frames, ended) = pending.take()
                                if let frames { try await writer.write(frames) }
                                lastWrite = .now
                                if ended { break loop }
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

/// The frames a stream has yet to write. A client that falls behind (or a server under load)
/// gets everything that piled up in one write rather than one write per event.
final class PendingFrames: Sendable {
    private let state = Mutex<(frames: ByteBuffer?, ended: Bool)>((nil, false))

    /// Queues `event`'s frame; `true` when the queue was empty, so the writer needs waking.
    func add(_ event: ReplyEvent) -> Bool {
        state.withLock { state in
            let wasEmpty = state.frames == nil
            if var frames = state.frames {
                state.frames = nil  // so the append below does not copy the buffer
                frames.writeImmutableBuffer(event.frame)
                state.frames = frames
            } else {
                state.frames = event.frame
            }
            if event.isTerminal { state.ended = true }
            return wasEmpty
        }
    }

    /// Everything queued, and whether the terminal event is among it.
    func take() -> (ByteBuffer?, ended: Bool) {
        state.withLock { state in
            defer { state.frames = nil }
            return (state.frames, state.ended)
        }
    }
}
