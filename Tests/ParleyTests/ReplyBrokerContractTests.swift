import Crypto
import CurlStream
import Foundation
import GRDB
import Logging
import Testing
import TestUpstream

@testable import Parley

/// What every `ReplyBroker` must do, whichever runs the replies. Each test runs once per factory;
/// a second broker (one shared by several instances, say) joins `factories` and must pass unchanged.
@Suite struct ReplyBrokerContractTests {
    /// Builds a broker over a chat store and a reply generator; `retention` is how long a finished
    /// reply's events may stay in memory.
    struct Factory: Sendable, CustomTestStringConvertible {
        let name: String
        let make: @Sendable (_ store: any ChatStore, _ generator: ReplyGenerator, _ retention: Duration) -> any ReplyBroker
        var testDescription: String { name }
    }

    static let factories = [
        Factory(name: "in-process hub") { store, generator, retention in
            GenerationHub(store: store, generator: generator, clock: .system, logger: Logger(label: "test"), retention: retention)
        }
    ]

    /// A broker over a fresh SQLite database holding one conversation (conv_1, owned by u-1, bot_1)
    /// whose bot talks to `upstream`.
    struct Bench: Sendable {
        let broker: any ReplyBroker
        let store: SQLiteChatStore
        let owner = ConversationOwner(workspaceID: "ws_1", userID: "u-1", botID: "bot_1")

        func post(_ content: String, clientMessageID: String? = nil) async throws -> ReplyRun {
            try await broker.start(
                ReplyPost(
                    owner: owner, conversationID: "conv_1", content: content, clientMessageID: clientMessageID, settings: WorkspaceSettings(),
                    allowance: MessageAllowance(
                        limiter: RateLimiter(clock: .system), key: "u-1", limit: .init(ratePerSecond: 10, burst: 100), metrics: nil)))
        }

        /// Every event of `run` after `after`, until its terminal event.
        func events(of run: ReplyRun, after: Int?) async -> [ReplyEvent] {
            let (stream, continuation) = AsyncStream.makeStream(of: ReplyEvent.self)
            let stop = run.subscribe(after: after, .init(deliver: { continuation.yield($0) }, finish: { continuation.finish() }))
            defer { stop() }
            var events: [ReplyEvent] = []
            for await event in stream { events.append(event) }
            return events
        }

        func stored(_ id: String) async throws -> MessageRecord? {
            try await store.message(id, conversationID: "conv_1")
        }
    }

    func withBench(
        _ factory: Factory, upstream script: @escaping @Sendable (ScriptedUpstream.Recorded) -> ScriptedUpstream.Reply,
        retention: Duration = .seconds(120), _ body: @Sendable (Bench) async throws -> Void
    ) async throws {
        let upstream = ScriptedUpstream(script)
        try await upstream.run { base in
            try await ReplyFixture.withConversation(providerBase: base) { store in
                try await body(Bench(broker: factory.make(store, ReplyFixture.generator(store: store), retention), store: store))
            }
        }
    }

    @Test(arguments: factories)
    func aStartedReplyIsFollowedFromAnyPointWithEachEventOnce(_ factory: Factory) async throws {
        try await withBench(factory, upstream: { _ in FakeProvider.openAI(["a", "b", "c"], pause: .milliseconds(30)) }) { bench in
            let run = try await bench.post("hi")
            let all = await bench.events(of: run, after: nil)
            #expect(all.map(\.seq) == Array(0..<all.count))
            #expect(all.map(\.name) == [.userMessage, .started, .delta, .delta, .delta, .completed])
            let stored = try #require(try await bench.stored(run.messageID))
            let follow = try #require(try await bench.broker.follow(stored, after: 2))
            #expect(await bench.events(of: follow.run, after: follow.after).map(\.seq) == [3, 4, 5])
            #expect(stored.status == .complete)
            #expect(stored.content == "abc")
        }
    }

    @Test(arguments: factories)
    func aSecondPostWhileAReplyStreamsIsAConflictAndARepeatIsTheSameReply(_ factory: Factory) async throws {
        let gate = ScriptedUpstream.Gate()
        try await withBench(
            factory,
            upstream: { _ in
                var reply = FakeProvider.openAI(["slow"])
                reply.steps.insert(.wait(gate), at: 1)
                return reply
            }
        ) { bench in
            let first = try await bench.post("one", clientMessageID: "c-1")
            let refused = await #expect(throws: ParleyError.self) { _ = try await bench.post("two") }
            #expect(refused?.code == "conflict")
            let repeated = try await bench.post("one", clientMessageID: "c-1")
            #expect(repeated.messageID == first.messageID, "a repeat follows the same reply")
            gate.open()
            #expect(await bench.events(of: repeated, after: nil).last?.name == .completed)
        }
    }

    @Test(arguments: factories)
    func cancelStopsARunningReplyAndNothingElse(_ factory: Factory) async throws {
        let chunk = FakeProvider.openAIChunk(["model": "m", "choices": [["delta": ["content": "la "], "finish_reason": NSNull()]]])
        try await withBench(factory, upstream: { _ in .init(steps: [.forever(chunk, every: .milliseconds(20))]) }) { bench in
            let run = try await bench.post("sing")
            #expect(await bench.broker.cancel("msg_nothing") == false)
            try await Task.sleep(for: .milliseconds(100))
            #expect(await bench.broker.cancel(run.messageID))
            let events = await bench.events(of: run, after: nil)
            #expect(events.last?.name == .completed)
            #expect(try await bench.stored(run.messageID)?.status == .cancelled)
        }
    }

    @Test(arguments: factories)
    func aFinishedReplyIsFollowedFromStorageWithItsTerminalSeq(_ factory: Factory) async throws {
        try await withBench(factory, upstream: { _ in FakeProvider.openAI(["x", "y"]) }, retention: .milliseconds(20)) { bench in
            let run = try await bench.post("go")
            let live = await bench.events(of: run, after: nil)
            let terminal = try #require(live.last)
            try await Task.sleep(for: .milliseconds(200))  // the events leave memory
            let stored = try #require(try await bench.stored(run.messageID))
            for after in [nil, 1, 3, terminal.seq] {
                let follow = try #require(try await bench.broker.follow(stored, after: after))
                #expect(follow.run !== run, "rebuilt from storage, not the live run")
                let events = await bench.events(of: follow.run, after: follow.after)
                #expect(events.last?.seq == terminal.seq, "after \(String(describing: after))")
                #expect(events.last?.name == .completed)
            }
        }
    }
}
