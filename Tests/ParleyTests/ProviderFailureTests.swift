import CurlStream
import Foundation
import HTTPTypes
import Synchronization
import Testing
import TestUpstream

@testable import Parley

/// How a provider's failures reach the browser: as one `response.error` with the contract's
/// code, the partial text kept, the provider's own words never relayed.
@Suite struct ProviderFailureTests {
    /// The stored reply, as the messages list shows it.
    struct Stored: Sendable {
        var fields: [String: String] = [:]
        subscript(key: String) -> String? { fields[key] }
    }

    /// Runs one reply against `script` and returns its stream, the stored reply and the server's logs.
    func reply(
        _ script: @escaping @Sendable (ScriptedUpstream.Recorded) -> ScriptedUpstream.Reply,
        maxOutputTokens: Int = 256,
        adjust: @escaping @Sendable (inout ParleyConfig) -> Void = { _ in }
    ) async throws -> (stream: ReplyStream, stored: Stored, upstream: ScriptedUpstream, logs: String) {
        let upstream = ScriptedUpstream(script)
        let server = TestServer(adjust: adjust)
        let (stream, stored) = try await upstream.run { base in
            try await server.run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base, botFields: ["max_output_tokens": maxOutputTokens])
                let conversation = try await chat.newConversation()
                let stream = try await chat.streams.post(conversation, "hi", token: chat.token)
                let last = try await chat.messages(conversation).last ?? [:]
                return (stream, Stored(fields: last.compactMapValues { $0 as? String }))
            }
        }
        return (stream, stored, upstream, server.logs.text)
    }

    @Test func a500IsRetriedTwiceThenUpstreamError() async throws {
        let (stream, stored, upstream, _) = try await reply { _ in .init(status: 500, steps: [.text("boom")]) }
        #expect(upstream.requests.count == 3, "the first try and two retries")
        #expect(stream.names.last == "response.error")
        #expect(stream.errorCode == "upstream_error")
        #expect(stored["status"] == "failed")
    }

    @Test func a500FollowedBySuccessIsInvisibleToTheUser() async throws {
        let calls = Counter()
        let (stream, stored, upstream, _) = try await reply { _ in
            calls.next() == 0 ? .init(status: 503) : FakeProvider.openAI(["fine"])
        }
        #expect(upstream.requests.count == 2)
        #expect(stream.deltas == "fine")
        #expect(stored["status"] == "complete")
    }

    @Test func a401QuotingTheKeyIsProviderAuthFailedAndTheKeyIsNeverShownOrLogged() async throws {
        let body = #"{"error": {"message": "Incorrect API key provided: sk-upstream-secret-0123456789"}}"#
        let (stream, stored, upstream, logs) = try await reply { _ in .init(status: 401, steps: [.text(body)]) }
        #expect(upstream.requests.count == 1, "authentication failures are not retried")
        #expect(stream.errorCode == "provider_auth_failed")
        #expect(stored["status"] == "failed")
        let everything = stream.events.map(\.data).joined()
        #expect(!everything.contains("sk-upstream-secret"))
        #expect(!everything.contains("Incorrect API key"), "the provider's words are not relayed")
        #expect(logs.contains("provider answered an error"))
        #expect(!logs.contains("sk-upstream-secret-0123456789"))
    }

    @Test func a429WithALongRetryAfterIsNotRetried() async throws {
        let (stream, _, upstream, _) = try await reply { _ in .init(status: 429, headers: [("Retry-After", "120")]) }
        #expect(upstream.requests.count == 1)
        #expect(stream.errorCode == "upstream_rate_limited")
    }

    @Test func a429WithAShortRetryAfterIsRetriedOnce() async throws {
        let calls = Counter()
        let (stream, _, upstream, _) = try await reply { _ in
            calls.next() == 0 ? .init(status: 429, headers: [("Retry-After", "1")]) : FakeProvider.openAI(["after wait"])
        }
        #expect(upstream.requests.count == 2)
        #expect(stream.deltas == "after wait")
    }

    @Test func aContextLengthErrorIsContextTooLong() async throws {
        let body = #"{"error": {"code": "context_length_exceeded", "message": "This model's maximum context length is 8192 tokens."}}"#
        let (stream, _, _, _) = try await reply { _ in .init(status: 400, steps: [.text(body)]) }
        #expect(stream.errorCode == "context_too_long")
    }

    @Test func aStallAfterTwoChunksIsUpstreamTimeoutWithThePartialTextKept() async throws {
        let (stream, stored, _, _) = try await reply(
            { _ in
                var reply = FakeProvider.openAI(["first ", "second"], finish: nil)
                reply.steps.append(.sleep(.seconds(10)))
                return reply
            }, adjust: { $0.upstreamTimeouts.idle = .milliseconds(500) })
        #expect(stream.deltas == "first second")
        #expect(stream.errorCode == "upstream_timeout")
        #expect(stored["status"] == "failed")
        #expect(stored["content"] == "first second")
        #expect(stream.terminalMessage["content"] as? String == "first second")
    }

    @Test func aMalformedChunkIsUpstreamError() async throws {
        let (stream, _, _, _) = try await reply { _ in
            .init(steps: [.text(FakeProvider.openAIChunk(["model": "m", "choices": [["delta": ["content": "ok"]]]])), .text("data: {not json\n\n")])
        }
        #expect(stream.deltas == "ok")
        #expect(stream.errorCode == "upstream_error")
    }

    @Test func textThatArrivedInTheSameReadAsAMalformedChunkIsKept() async throws {
        let (stream, stored, _, _) = try await reply { _ in
            let good = FakeProvider.openAIChunk(["model": "m", "choices": [["delta": ["content": "kept"]]]])
            return .init(steps: [.text(good + "data: {not json\n\n")])
        }
        #expect(stream.deltas == "kept")
        #expect(stream.errorCode == "upstream_error")
        #expect(stored["content"] == "kept")
    }

    @Test func aDroppedConnectionMidReplyIsUpstreamErrorAndNotRetried() async throws {
        let (stream, stored, upstream, _) = try await reply { _ in
            var reply = FakeProvider.openAI(["partial"], finish: nil)
            reply.steps += [.sleep(.milliseconds(50)), .disconnect]
            return reply
        }
        #expect(upstream.requests.count == 1, "text already reached the user: no retry")
        #expect(stream.errorCode == "upstream_error")
        #expect(stored["content"] == "partial")
    }

    @Test func aStreamThatEndsWithoutAFinishReasonIsInterrupted() async throws {
        let (stream, stored, _, _) = try await reply { _ in FakeProvider.openAI(["half"], finish: nil) }
        #expect(stream.errorCode == "interrupted")
        #expect(stored["status"] == "interrupted")
    }

    @Test func anEndlessStreamIsCutOff() async throws {
        let chunk = FakeProvider.openAIChunk(["model": "m", "choices": [["delta": ["content": "more and more "], "finish_reason": NSNull()]]])
        let (stream, stored, upstream, _) = try await reply(
            { _ in .init(steps: [.forever(chunk, every: .milliseconds(1))]) }, maxOutputTokens: 16)
        #expect(stream.errorCode == "upstream_error")
        #expect(stored["status"] == "failed")
        #expect(upstream.requests.count == 1)
        #expect(await eventually(timeout: .seconds(2)) { !upstream.disconnects.isEmpty }, "the endless transfer was aborted")
    }

    @Test func aTwentyMegabyteLineIsRefused() async throws {
        let line = "data: " + String(repeating: "x", count: 20 << 20)
        let (stream, _, _, _) = try await reply { _ in .init(steps: [.text(line)]) }
        #expect(stream.errorCode == "upstream_error")
    }

    @Test func anUnreachableProviderIsUpstreamError() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["never"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: "http://127.0.0.1:1")
                let stream = try await chat.streams.post(try await chat.newConversation(), "hi", token: chat.token)
                #expect(stream.errorCode == "upstream_error")
                _ = base
            }
        }
    }

    /// The operator's log says which step failed, so a DNS, firewall or certificate problem is not
    /// taken for the provider's: the cause goes on every retry line and on the reply's last line.
    @Test func providerFailuresAreLoggedWithTheirCause() async throws {
        let overloaded = #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
        let (_, _, _, statusLogs) = try await reply { _ in .init(status: 529, steps: [.text(overloaded)]) }
        #expect(statusLogs.contains("provider failed; retrying parley.attempt=1 parley.cause=HTTP 529 overloaded_error"))
        #expect(statusLogs.contains("reply ended with an error parley.cause=HTTP 529 overloaded_error parley.code=upstream_error"))

        let (_, _, _, stallLogs) = try await reply(
            { _ in
                var reply = FakeProvider.openAI(["first"], finish: nil)
                reply.steps.append(.sleep(.seconds(10)))
                return reply
            }, adjust: { $0.upstreamTimeouts.idle = .milliseconds(300) })
        #expect(stallLogs.contains("parley.cause=response stalled (idle timeout) parley.code=upstream_timeout"))

        // Nothing listens on port 1; a plain-HTTP server spoken to over https fails in TLS; the
        // .invalid name never resolves.
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["never"]) }
        try await upstream.run { base in
            let plain = base.replacingOccurrences(of: "http://", with: "https://")
            let expected = [
                ("http://127.0.0.1:1", "parley.cause=TCP connect failed (curl 7: "),
                (plain, "parley.cause=TLS failed (curl 35: "),
                ("http://provider.invalid", "parley.cause=DNS resolution failed"),
            ]
            for (url, cause) in expected {
                let server = TestServer()
                try await server.run { api throws in
                    let chat = try await ChatFixture.make(api, upstream: url)
                    let stream = try await chat.streams.post(try await chat.newConversation(), "hi", token: chat.token)
                    #expect(stream.errorCode == "upstream_error")
                }
                let lines = server.logs.text.split(separator: "\n")
                #expect(lines.contains { $0.hasPrefix("notice provider failed; retrying") && $0.contains(cause) }, "\(url): \(cause)")
                #expect(lines.contains { $0.hasPrefix("notice reply ended with an error") && $0.contains(cause) && $0.contains("parley.provider_host=") })
            }
        }
    }

    /// A provider that answers the streaming request with `application/json` gave its whole reply
    /// (or its error) in one document: it is read as such, not taken for a broken stream.
    @Test func aWholeJSONAnswerIsReadAsTheReplyAndAJSONErrorAsAnError() async throws {
        let whole = #"{"model":"m-1","choices":[{"index":0,"message":{"role":"assistant","content":"All at once."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":4}}"#
        let (stream, stored, _, logs) = try await reply { _ in .init(headers: [("Content-Type", "application/json")], steps: [.text(whole)]) }
        #expect(stream.deltas == "All at once.")
        #expect(stream.names.last == "response.completed")
        #expect((stream.terminalMessage["usage"] as? [String: Any])?["input_tokens"] as? Int == 9)
        #expect(stored["status"] == "complete")
        #expect(logs.contains("parley.content_type=application/json"), "the log names what the provider sent")

        let failed = try await reply { _ in
            .init(headers: [("Content-Type", "application/json; charset=utf-8")], steps: [.text(#"{"error":{"message":"no","type":"invalid_request_error"}}"#)])
        }
        #expect(failed.stream.errorCode == "upstream_error", "not interrupted")
        #expect(failed.stored["status"] == "failed")
    }
}

/// Counts calls from concurrent scripts.
final class Counter: Sendable {
    private let value = Mutex(0)

    /// The count before this call.
    func next() -> Int {
        value.withLock { current in
            defer { current += 1 }
            return current
        }
    }
}
