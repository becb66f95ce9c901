import Foundation
import Testing
import TestUpstream

@testable import CurlStream

/// `CurlClient` against a real HTTP server on loopback.
@Suite struct CurlClientTests {
    let client = CurlClient(configuration: .init(highWaterBytes: 64 * 1024, lowWaterBytes: 16 * 1024))

    func text(_ response: CurlResponse) async throws -> String {
        String(decoding: try await response.body.collect(upTo: 64 << 20), as: UTF8.self)
    }

    @Test func postsABodyAndReadsTheStatusHeadersAndBody() async throws {
        let upstream = ScriptedUpstream { request in
            .init(status: 201, headers: [("X-Echo", request.headers["x-token"] ?? "")], steps: [.text("got "), .bytes(request.body)])
        }
        try await upstream.run { base in
            let response = try await client.execute(
                CurlRequest(url: base + "/v1/things", method: "POST", headers: [("X-Token", "abc"), ("Content-Type", "application/json")],
                            body: Array(#"{"a":1}"#.utf8)))
            #expect(response.status == 201)
            #expect(response.header("X-Echo") == "abc")
            #expect(try await text(response) == #"got {"a":1}"#)
        }
        let request = try #require(upstream.requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/v1/things")
        #expect(request.headers["content-type"] == "application/json")
    }

    @Test func streamsChunksAsTheyArrive() async throws {
        let gate = ScriptedUpstream.Gate()
        let upstream = ScriptedUpstream { _ in .init(steps: [.text("one"), .wait(gate), .text("two")]) }
        try await upstream.run { base in
            let response = try await client.execute(CurlRequest(url: base + "/"))
            var iterator = response.body.makeAsyncIterator()
            let first = try await iterator.next()
            #expect(first.map { String(decoding: $0, as: UTF8.self) } == "one", "delivered while the rest does not exist yet")
            gate.open()
            var rest = ""
            while let chunk = try await iterator.next() { rest += String(decoding: chunk, as: UTF8.self) }
            #expect(rest == "two")
        }
    }

    @Test func aSlowReaderGetsEveryByteOfALargeBodyInOrder() async throws {
        let size = 8 << 20
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let upstream = ScriptedUpstream { _ in .init(steps: [.bytes(payload)]) }
        try await upstream.run { base in
            let response = try await client.execute(CurlRequest(url: base + "/big"))
            var received: [UInt8] = []
            received.reserveCapacity(size)
            var reads = 0
            for try await chunk in response.body {
                received += chunk
                reads += 1
                // Read slowly at first, so the transfer fills the buffer and pauses.
                if reads < 20 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(received.count == size)
            #expect(received == payload)
        }
    }

    @Test func redirectsAreReturnedNotFollowed() async throws {
        let upstream = ScriptedUpstream { _ in .init(status: 302, headers: [("Location", "http://169.254.169.254/")]) }
        try await upstream.run { base in
            let response = try await client.execute(CurlRequest(url: base + "/"))
            #expect(response.status == 302)
            #expect(try await text(response) == "")
        }
        #expect(upstream.requests.count == 1)
    }

    @Test func resolveEntriesPinTheAddress() async throws {
        let upstream = ScriptedUpstream { request in .init(steps: [.text(request.headers["host"] ?? "")]) }
        try await upstream.run { base in
            let port = try #require(base.split(separator: ":").last)
            let response = try await client.execute(
                CurlRequest(url: "http://provider.invalid:\(port)/", resolve: ["provider.invalid:\(port):127.0.0.1"]))
            #expect(try await text(response) == "provider.invalid:\(port)")
        }
    }

    @Test func aRefusedConnectionIsATransportError() async throws {
        await #expect(throws: CurlError.self) {
            _ = try await client.execute(CurlRequest(url: "http://127.0.0.1:1/", timeouts: .init(connect: .seconds(2))))
        }
    }

    @Test func noResponseHeadInTimeIsAFirstByteTimeout() async throws {
        // The head would come after 10 s: an error at all proves the 300 ms deadline fired first.
        let upstream = ScriptedUpstream { _ in .init(delayBeforeHead: .seconds(10)) }
        _ = try await upstream.run { base in
            await #expect(throws: CurlError.firstByteTimeout) {
                _ = try await client.execute(CurlRequest(url: base + "/", timeouts: .init(firstByte: .milliseconds(300))))
            }
        }
    }

    @Test func aStallAfterTwoChunksIsAnIdleTimeout() async throws {
        let upstream = ScriptedUpstream { _ in .init(steps: [.text("a"), .text("b"), .sleep(.seconds(5)), .text("c")]) }
        try await upstream.run { base in
            let response = try await client.execute(CurlRequest(url: base + "/", timeouts: .init(idle: .milliseconds(400))))
            var received = ""
            await #expect(throws: CurlError.idleTimeout) {
                for try await chunk in response.body { received += String(decoding: chunk, as: UTF8.self) }
            }
            #expect(received == "ab")
        }
    }

    @Test func aDroppedConnectionEndsTheBodyWithAnError() async throws {
        let upstream = ScriptedUpstream { _ in .init(steps: [.text("partial"), .sleep(.milliseconds(50)), .disconnect]) }
        try await upstream.run { base in
            let response = try await client.execute(CurlRequest(url: base + "/"))
            var received = ""
            await #expect(throws: CurlError.self) {
                for try await chunk in response.body { received += String(decoding: chunk, as: UTF8.self) }
            }
            #expect(received == "partial")
        }
    }

    @Test func cancellingTheReaderClosesTheConnectionPromptly() async throws {
        let upstream = ScriptedUpstream { _ in .init(steps: [.forever("tick\n", every: .milliseconds(20))]) }
        try await upstream.run { base in
            // Cancel only once the body flows, so the upstream is mid-response: on a loaded
            // machine a fixed wait could cancel before the request reached it, and a connection
            // closed before any response is not what this test is about.
            let (flowing, bodyFlows) = AsyncStream.makeStream(of: Void.self)
            let reader = Task {
                defer { bodyFlows.finish() }
                let response = try await client.execute(CurlRequest(url: base + "/"))
                for try await _ in response.body { bodyFlows.yield() }
            }
            var chunks = flowing.makeAsyncIterator()
            try #require(await chunks.next() != nil, "the body started")
            let cancelledAt = ContinuousClock.now
            reader.cancel()
            _ = await reader.result
            var closedAt: ContinuousClock.Instant?
            for _ in 0..<100 where closedAt == nil {
                closedAt = upstream.disconnects.first
                if closedAt == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            let closed = try #require(closedAt, "the upstream saw its connection closed")
            #expect(closed - cancelledAt < .seconds(2), "generous for a loaded machine; the design target is 100 ms")
            #expect(client.openTransfers == 0)
        }
    }

    @Test func droppingTheResponseUnreadAbortsTheTransfer() async throws {
        let upstream = ScriptedUpstream { _ in .init(steps: [.forever("tick\n", every: .milliseconds(20))]) }
        try await upstream.run { base in
            do {
                let response = try await client.execute(CurlRequest(url: base + "/"))
                #expect(response.status == 200)
            }
            for _ in 0..<100 where client.openTransfers > 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(client.openTransfers == 0)
        }
    }

    @Test func theReactorThreadCarriesItsNameInTheKernel() async throws {
        func threadNames() -> [String] {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
                .map { $0.trimmingCharacters(in: .newlines) }
        }
        // The thread names itself once it runs, just after `client` was made.
        for _ in 0..<100 where !threadNames().contains(Reactor.threadName) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(threadNames().contains(Reactor.threadName), "what top -H and perf show for the thread that drives libcurl")
    }

    @Test func manyConcurrentTransfersShareTheOneReactor() async throws {
        let upstream = ScriptedUpstream { request in .init(steps: [.sleep(.milliseconds(100)), .text(request.path)]) }
        try await upstream.run { base in
            let bodies = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        let response = try await client.execute(CurlRequest(url: base + "/\(index)"))
                        return String(decoding: try await response.body.collect(upTo: 1024), as: UTF8.self)
                    }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(bodies == Set((0..<300).map { "/\($0)" }))
        }
    }
}
