import Foundation
import HummingbirdTesting
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TestUpstream

@testable import Parley

/// No client can hold a connection by being slow or idle, and the connection count is capped,
/// while a streaming reply is never cut (issue 27, defect 3).
@Suite struct ConnectionLimitsTests {
    // MARK: The rules, without I/O

    @Test func theDeadlineFollowsWhatTheConnectionIsDoing() {
        var limits = ConnectionLimits()
        (limits.headTimeout, limits.idleTimeout, limits.bodyTimeout) = (.seconds(10), .seconds(60), .seconds(30))
        let start = ContinuousClock.now
        var state = ConnectionDeadline(limits: limits, openedAt: start)
        #expect(state.deadline == start + .seconds(10), "a new connection owes its first head")
        #expect(state.expiredPhase == "request head")
        #expect(state.readHead(at: start + .seconds(1)) == start + .seconds(31), "then its body")
        #expect(state.expiredPhase == "request body")
        #expect(state.readEnd() == nil, "no deadline while the response is written, however long")
        #expect(state.readHead(at: start + .seconds(2)) == start + .seconds(32), "a pipelined request owes its body")
        #expect(state.readEnd() == nil)
        #expect(state.wroteResponseEnd(at: start + .seconds(500)) == nil, "one response still open")
        #expect(state.wroteResponseEnd(at: start + .seconds(600)) == start + .seconds(660), "then idle keep-alive")
        #expect(state.expiredPhase == "idle keep-alive")
    }

    @Test func theCapLeavesRoomForTheDatabaseAndTwoDescriptorsPerReply() {
        #expect(ConnectionLimits.connectionCap(forDescriptors: 20_000) == 9_936)
        #expect(ConnectionLimits.connectionCap(forDescriptors: 1_024) == 448)
        #expect(ConnectionLimits.connectionCap(forDescriptors: 100) == 16)
    }

    // MARK: A live server

    /// A TCP connection that sends what a test says and reports when the server closed it.
    final class RawConnection: Sendable {
        private struct State {
            var received = ""
            var closedAt: ContinuousClock.Instant?
        }

        private let state = Mutex(State())
        private let outbox: AsyncStream<ByteBuffer>.Continuation
        private let channel: any Channel

        init(port: Int) async throws {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) {
                channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
            let (sends, outbox) = AsyncStream.makeStream(of: ByteBuffer.self)
            self.outbox = outbox
            self.channel = channel.channel
            Task { [self] in
                try? await channel.executeThenClose { inbound, outbound in
                    await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await buffer in sends { try await outbound.write(buffer) }
                        }
                        do {
                            for try await buffer in inbound { state.withLock { $0.received += String(buffer: buffer) } }
                        } catch {}
                        state.withLock { $0.closedAt = .now }
                        group.cancelAll()
                    }
                }
                state.withLock { $0.closedAt = $0.closedAt ?? .now }
            }
        }

        func send(_ text: String) { outbox.yield(ByteBuffer(string: text)) }
        var text: String { state.withLock { $0.received } }
        var isClosed: Bool { state.withLock { $0.closedAt != nil } }
        /// When the server closed the connection, waiting up to `timeout` for it.
        func closed(within timeout: Duration) async -> ContinuousClock.Instant? {
            _ = await eventually(timeout: timeout, every: .milliseconds(10)) { isClosed }
            return state.withLock { $0.closedAt }
        }
        /// Closes the connection from this side.
        func close() {
            outbox.finish()
            channel.close(promise: nil)
        }
    }

    static func server(_ adjust: @escaping @Sendable (inout ConnectionLimits) -> Void) -> TestServer {
        TestServer { config in
            (config.connectionLimits.headTimeout, config.connectionLimits.idleTimeout, config.connectionLimits.bodyTimeout) =
                (.milliseconds(500), .milliseconds(700), .milliseconds(500))
            adjust(&config.connectionLimits)
        }
    }

    @Test func aHeadSentOneByteAtATimeIsCutAtTheHeadDeadline() async throws {
        try await Self.server { _ in }.run { api throws in
            let opened = ContinuousClock.now  // before the connection exists, so before the server's timer starts
            let connection = try await RawConnection(port: try #require(api.client.port))
            let drip = Task {
                for byte in "GET /healthz HTTP/1.1\r\nHost: parley.test\r\nX-Slow: \(String(repeating: "a", count: 40))" {
                    guard !connection.isClosed else { return }
                    connection.send(String(byte))
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            let closed = try #require(await connection.closed(within: .seconds(5)), "the server closed the connection")
            drip.cancel()
            #expect(closed - opened < .seconds(2), "within the 0.5 s head deadline (and scheduling)")
            #expect(closed - opened >= .milliseconds(500))
            #expect(!connection.text.contains("200 OK"))
        }
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        try await Self.server { _ in }.run { api throws in
            let connection = try await RawConnection(port: try #require(api.client.port))
            let sent = ContinuousClock.now
            connection.send("GET /healthz HTTP/1.1\r\nHost: parley.test\r\n\r\n")
            #expect(await eventually(timeout: .seconds(2)) { connection.text.contains(#"{"status":"ok"}"#) })
            let answered = ContinuousClock.now
            let closed = try #require(await connection.closed(within: .seconds(5)))
            // The idle timer starts when the answer is written: after the request was sent, and
            // before the test saw the answer.
            #expect(closed - sent >= .milliseconds(700), "kept alive for the idle timeout")
            #expect(closed - answered < .seconds(2))
        }
    }

    @Test func aStalledBodyIsCutAtTheBodyDeadline() async throws {
        try await Self.server { _ in }.run { api throws in
            let connection = try await RawConnection(port: try #require(api.client.port))
            connection.send(
                "POST /v1/conversations HTTP/1.1\r\nHost: parley.test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ti")
            let sent = ContinuousClock.now
            let closed = try #require(await connection.closed(within: .seconds(5)))
            #expect(closed - sent < .seconds(2))
        }
    }

    @Test func aReplyStreamOutlivesEveryDeadline() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["slow ", "and ", "steady"], pause: .milliseconds(700)) }
        try await upstream.run { base in
            try await Self.server { _ in }.run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let stream = try await chat.streams.post(try await chat.newConversation(), "take your time", token: chat.token)
                #expect(stream.names.last == "response.completed", "2 s of streaming past 0.5 s deadlines")
                #expect(stream.deltas == "slow and steady")
            }
        }
    }

    /// Through the real binary: HummingbirdTesting's live server drops the connection delegate.
    @Test func pastTheCapNewConnectionsWaitUntilOneCloses() async throws {
        let folder = try CommandLineTests.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (process, port) = try await CommandLineTests.launch(["serve", "--data-dir", folder.path], environment: ["PARLEY_MAX_CONNECTIONS": "2"])
        defer { process.terminate() }
        let held = [try await RawConnection(port: port), try await RawConnection(port: port)]
        let waiting = try await RawConnection(port: port)
        waiting.send("GET /healthz HTTP/1.1\r\nHost: parley.test\r\n\r\n")
        try await Task.sleep(for: .milliseconds(500))
        #expect(waiting.text.isEmpty, "not served while the cap is reached")
        #expect(!waiting.isClosed, "nor refused: it waits in the backlog")
        held[0].close()
        #expect(await eventually(timeout: .seconds(3)) { waiting.text.contains(#"{"status":"ok"}"#) }, "served once one closed")
        held[1].close()
        waiting.close()
    }

    @Test func reachingTheCapAndLeavingItAreLogged() {
        let logs = LogCapture()
        var cap = LoggedConnectionCap(maxConnections: 2, logger: logs.logger())
        cap.connectionOpened()
        #expect(cap.isAcceptingNewConnections())
        cap.connectionOpened()
        #expect(!cap.isAcceptingNewConnections())
        #expect(logs.text.contains("connection cap reached; new connections wait until one closes parley.max_connections=2"))
        cap.connectionClosed()
        #expect(cap.isAcceptingNewConnections())
        #expect(logs.text.contains("below the connection cap again"))
    }
}
