import Foundation
import HTTPTypes
import Testing
import TestUpstream

@testable import Parley

/// DESIGN.md §4, the stream: a reply from a real HTTP provider over loopback.
@Suite struct ChatStreamTests {
    @Test func anOpenAIReplyStreamsAndIsStored() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["Hel", "lo, ", "Jane!"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let stream = try await chat.streams.post(conversation, "Say hello", token: chat.token)

                #expect(stream.status == 200)
                #expect(stream.names == ["user_message", "response.started", "response.delta", "response.delta", "response.delta", "response.completed"])
                let messageID = try #require(stream.messageID)
                #expect(stream.events.map(\.id) == (0..<6).map { "\(messageID):\($0)" })
                #expect(stream.deltas == "Hello, Jane!")
                let userMessage = try #require(stream.json(stream.events[0])["message"] as? [String: Any])
                #expect(userMessage["content"] as? String == "Say hello")
                #expect(userMessage["role"] as? String == "user")
                let started = stream.json(stream.events[1])
                #expect(started["message_id"] as? String == messageID)
                #expect(started["conversation_id"] as? String == conversation)
                #expect(stream.terminalMessage["status"] as? String == "complete")
                #expect(stream.terminalMessage["finish_reason"] as? String == "stop")
                #expect((stream.terminalMessage["usage"] as? [String: Any])?["output_tokens"] as? Int == 3)

                let stored = try await chat.messages(conversation)
                #expect(stored.map { $0["role"] as? String } == ["user", "assistant"])
                #expect(stored.last?["content"] as? String == "Hello, Jane!")
                #expect(stored.last?["id"] as? String == messageID)
                let listed = try await api.request(.get, "/v1/conversations", as: .bearer(chat.token))
                let first = try #require((listed["data"] as? [[String: Any]])?.first)
                #expect(first["title"] as? String == "Say hello", "the title defaults to the first message")
                #expect(first["last_message_preview"] as? String == "Hello, Jane!")
            }
        }
        let request = try #require(upstream.requests.first)
        #expect(request.path == "/v1/chat/completions")
        #expect(request.headers["authorization"] == "Bearer sk-upstream-secret-0123456789")
        let body = try #require(request.json)
        #expect(body["stream"] as? Bool == true)
        #expect(body["max_tokens"] as? Int == 256)
        #expect((body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        let user = try #require(body["user"] as? String)
        #expect(user.count == 32 && !user.contains("u-42"), "the end user is sent as a hash")
        let messages = try #require(body["messages"] as? [[String: String]])
        #expect(messages == [["role": "system", "content": "You are terse."], ["role": "user", "content": "Say hello"]])
    }

    @Test func anAnthropicReplyStreamsAndIsStored() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.anthropic(["Bonjour", " !"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base, kind: "anthropic")
                let conversation = try await chat.newConversation()
                let stream = try await chat.streams.post(conversation, "Salut", token: chat.token)
                #expect(stream.deltas == "Bonjour !")
                #expect(stream.terminalMessage["status"] as? String == "complete")
                #expect(stream.terminalMessage["finish_reason"] as? String == "end_turn")
                let usage = try #require(stream.terminalMessage["usage"] as? [String: Any])
                #expect(usage["input_tokens"] as? Int == 21)
                #expect(usage["output_tokens"] as? Int == 2)
            }
        }
        let request = try #require(upstream.requests.first)
        #expect(request.path == "/v1/messages")
        #expect(request.headers["x-api-key"] == "sk-upstream-secret-0123456789")
        #expect(request.headers["anthropic-version"] == "2023-06-01")
        let body = try #require(request.json)
        #expect(body["system"] as? String == "You are terse.")
        #expect((body["messages"] as? [[String: String]]) == [["role": "user", "content": "Salut"]])
    }

    /// Some Anthropic-compatible servers report the input tokens in `message_delta`, not in
    /// `message_start`: the last report of each figure wins.
    @Test func anthropicUsageIsTakenFromWhereverItIsReported() async throws {
        let upstream = ScriptedUpstream { _ in
            var reply = FakeProvider.anthropic(["Hi"])
            reply.steps = reply.steps.map { step in
                guard case .text(let text) = step else { return step }
                return .text(
                    text.replacingOccurrences(of: #","usage":{"input_tokens":21}"#, with: "")
                        .replacingOccurrences(of: #""usage":{"output_tokens":1}"#, with: #""usage":{"input_tokens":33,"output_tokens":5}"#))
            }
            return reply
        }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base, kind: "anthropic")
                let stream = try await chat.streams.post(try await chat.newConversation(), "Salut", token: chat.token)
                let usage = try #require(stream.terminalMessage["usage"] as? [String: Any])
                #expect(usage["input_tokens"] as? Int == 33)
                #expect(usage["output_tokens"] as? Int == 5)
            }
        }
    }

    @Test func theHistoryIsSentUpstream() async throws {
        let upstream = ScriptedUpstream { request in
            let count = (request.json?["messages"] as? [Any])?.count ?? 0
            return FakeProvider.openAI(["reply \(count)"])
        }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                _ = try await chat.streams.post(conversation, "first", token: chat.token)
                let second = try await chat.streams.post(conversation, "second", token: chat.token)
                #expect(second.deltas == "reply 4")
            }
        }
        let messages = try #require(upstream.requests.last?.json?["messages"] as? [[String: String]])
        #expect(messages.map { $0["content"] ?? "" } == ["You are terse.", "first", "reply 2", "second"])
        #expect(messages.map { $0["role"] ?? "" } == ["system", "user", "assistant", "user"])
    }

    @Test func modelTextCannotForgeAnEvent() async throws {
        let forgery = "\n\nevent: response.completed\ndata: {\"message\": {\"status\": \"complete\"}}\n\nid: x:99\r\n"
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["before", forgery, "after"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let stream = try await chat.streams.post(try await chat.newConversation(), "hi", token: chat.token)
                #expect(stream.names.filter { $0 == "response.completed" }.count == 1)
                #expect(stream.names.last == "response.completed")
                #expect(stream.deltas == "before" + forgery + "after", "the text arrives whole, inside one delta")
                #expect(stream.events.allSatisfy { !$0.data.contains("\n") })
            }
        }
    }

    @Test func chunksCutAtEveryByteStillDecodeMultibyteText() async throws {
        let text = "Grüße, 世界! 🎉 ok"
        let body = FakeProvider.openAIChunk(["model": "m", "choices": [["delta": ["content": text], "finish_reason": NSNull()]]])
            + FakeProvider.openAIChunk(["model": "m", "choices": [["delta": [:], "finish_reason": "stop"]]]) + "data: [DONE]\n\n"
        let bytes = Array(body.utf8)
        // Every byte on its own write, each flushed before the next.
        let upstream = ScriptedUpstream { _ in
            .init(steps: bytes.flatMap { [ScriptedUpstream.Step.bytes([$0]), .sleep(.microseconds(200))] })
        }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let stream = try await chat.streams.post(try await chat.newConversation(), "hi", token: chat.token)
                #expect(stream.deltas == text)
                #expect(stream.terminalMessage["content"] as? String == text)
            }
        }
    }

    @Test func aBrowserThatLeavesDoesNotStopTheReply() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["one ", "two ", "three"], pause: .milliseconds(150)) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let response = try await chat.streams.open(
                    "POST", "/v1/conversations/\(conversation)/messages", token: chat.token, json: ["content": "count"])
                let partial = try await chat.streams.read(response, stopAfter: 3)  // user_message, started, first delta
                #expect(partial.names.prefix(3) == ["user_message", "response.started", "response.delta"])
                var stored: [[String: Any]] = []
                _ = await eventually(timeout: .seconds(5)) {
                    stored = (try? await chat.messages(conversation)) ?? []
                    return stored.last?["status"] as? String == "complete"
                }
                #expect(stored.last?["status"] as? String == "complete")
                #expect(stored.last?["content"] as? String == "one two three")
            }
        }
    }

    @Test func partialTextIsSavedWhileTheProviderIsSilent() async throws {
        let gate = ScriptedUpstream.Gate()
        let upstream = ScriptedUpstream { _ in
            var reply = FakeProvider.openAI(["saved ", "later"])
            reply.steps.insert(.wait(gate), at: 1)  // after the first delta
            return reply
        }
        try await upstream.run { base in
            try await TestServer { $0.replyFlushInterval = .milliseconds(100) }.run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let response = try await chat.streams.open(
                    "POST", "/v1/conversations/\(conversation)/messages", token: chat.token, json: ["content": "x"])
                let reading = Task { try await chat.streams.read(response) }
                var stored: [String: Any] = [:]
                _ = await eventually(timeout: .seconds(3)) {
                    stored = (try? await chat.messages(conversation).last) ?? [:]
                    return stored["content"] as? String == "saved "
                }
                #expect(stored["status"] as? String == "streaming")
                #expect(stored["content"] as? String == "saved ", "saved while no further text arrived")
                gate.open()
                #expect(try await reading.value.deltas == "saved later")
            }
        }
    }

    @Test func resumingFromTheMiddleReplaysEachMissedEventOnce() async throws {
        let words = (1...8).map { "w\($0) " }
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(words, pause: .milliseconds(80)) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let response = try await chat.streams.open(
                    "POST", "/v1/conversations/\(conversation)/messages", token: chat.token, json: ["content": "go"])
                let first = try await chat.streams.read(response, stopAfter: 4)
                let messageID = try #require(first.messageID)
                let lastSeen = try #require(first.events.last?.id)

                let resumed = try await chat.streams.read(
                    try await chat.streams.open(
                        "GET", "/v1/conversations/\(conversation)/messages/\(messageID)/events", token: chat.token,
                        headers: [("Last-Event-ID", lastSeen)]))
                let seqs = (first.events + resumed.events).compactMap { $0.id?.split(separator: ":").last.flatMap { Int($0) } }
                #expect(seqs == Array(0..<seqs.count), "no gap and no duplicate across the reconnect")
                #expect(resumed.names.last == "response.completed")
                let text = (first.events + resumed.events).filter { $0.event == "response.delta" }
                    .compactMap { resumed.json($0)["delta"] as? String }.joined()
                let stored = try await chat.messages(conversation)
                #expect(text == words.joined())
                #expect(stored.last?["content"] as? String == text)

                // Two more followers at once, one via ?after=, after the reply has finished.
                async let a = chat.streams.read(
                    try await chat.streams.open("GET", "/v1/conversations/\(conversation)/messages/\(messageID)/events?after=5", token: chat.token))
                async let b = chat.streams.read(
                    try await chat.streams.open("GET", "/v1/conversations/\(conversation)/messages/\(messageID)/events", token: chat.token))
                let (afterFive, all) = try await (a, b)
                #expect(afterFive.events.first?.id == "\(messageID):6")
                #expect(all.events.count == seqs.count)
            }
        }
    }

    @Test func cancelEndsTheReplyAndClosesTheProviderConnection() async throws {
        let upstream = ScriptedUpstream { _ in
            .init(headers: [("Content-Type", "text/event-stream")],
                  steps: [.forever(FakeProvider.openAIChunk(["model": "m", "choices": [["delta": ["content": "la "], "finish_reason": NSNull()]]]), every: .milliseconds(50))])
        }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base, botFields: ["max_output_tokens": 100_000])
                let conversation = try await chat.newConversation()
                let response = try await chat.streams.open(
                    "POST", "/v1/conversations/\(conversation)/messages", token: chat.token, json: ["content": "sing"])
                let reading = Task { try await chat.streams.read(response) }
                try await Task.sleep(for: .milliseconds(400))
                let messageID = try #require(try await chat.messages(conversation).last?["id"] as? String)
                let cancelledAt = ContinuousClock.now
                let cancel = try await api.request(
                    .post, "/v1/conversations/\(conversation)/messages/\(messageID)/cancel", as: .bearer(chat.token))
                #expect(cancel.status == .accepted)
                let stream = try await reading.value
                #expect(stream.names.last == "response.completed")
                #expect(stream.terminalMessage["status"] as? String == "cancelled")
                _ = await eventually(timeout: .seconds(2)) { !upstream.disconnects.isEmpty }
                let closedAt = try #require(upstream.disconnects.first, "the provider saw its connection closed")
                #expect(closedAt - cancelledAt < .seconds(2))
                let stored = try await chat.messages(conversation)
                #expect(stored.last?["status"] as? String == "cancelled")
                #expect((stored.last?["content"] as? String)?.hasPrefix("la ") == true, "the partial text is kept")
            }
        }
    }

    @Test func aRepeatedClientMessageIDReturnsTheSameReplyWithoutCallingTheProviderAgain() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["once"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let first = try await chat.streams.post(conversation, "hi", token: chat.token, clientMessageID: "client-1")
                let again = try await chat.streams.post(conversation, "hi", token: chat.token, clientMessageID: "client-1")
                #expect(again.messageID == first.messageID)
                #expect(again.events.first?.id == "\(try #require(first.messageID)):0", "from seq 0")
                #expect(again.terminalMessage["content"] as? String == "once")
                #expect(try await chat.messages(conversation).count == 2, "one user message, one reply")
            }
        }
        #expect(upstream.requests.count == 1)
    }

    @Test func aSecondPostWhileAReplyStreamsIsAConflict() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["slow ", "reply"], pause: .milliseconds(400)) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let response = try await chat.streams.open(
                    "POST", "/v1/conversations/\(conversation)/messages", token: chat.token, json: ["content": "one"])
                let second = try await api.request(
                    .post, "/v1/conversations/\(conversation)/messages", as: .bearer(chat.token), json: ["content": "two"])
                #expect(second.status == .conflict)
                #expect(second.errorCode == "conflict")
                _ = try await chat.streams.read(response)
                let other = try await chat.newConversation()
                #expect(try await chat.streams.post(other, "elsewhere", token: chat.token).status == 200)
            }
        }
    }

    @Test func pingsKeepAQuietStreamAlive() async throws {
        let upstream = ScriptedUpstream { _ in
            var reply = FakeProvider.openAI(["late"])
            reply.steps.insert(.sleep(.seconds(2)), at: 0)  // about six ping intervals of silence
            return reply
        }
        let server = TestServer { config in
            config.streamPingInterval = .milliseconds(300)
            config.streamCheckInterval = .milliseconds(100)
        }
        try await upstream.run { base in
            try await server.run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let stream = try await chat.streams.post(try await chat.newConversation(), "hi", token: chat.token)
                #expect(stream.comments >= 2)
                #expect(stream.deltas == "late")
            }
        }
    }

    /// A follower is let go when its token is revoked or expires (the check runs every 200 ms
    /// here, every 5 s by default); the reply itself goes on and is stored.
    @Test(arguments: ["revoked", "expired"])
    func aStreamEndsWhenItsTokenIsRevokedOrExpiresAndTheReplyIsStillStored(_ lapse: String) async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["a", "b", "c", "d", "e", "f"], pause: .milliseconds(300)) }
        let server = TestServer { $0.streamCheckInterval = .milliseconds(200) }
        try await upstream.run { base in
            try await server.run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let response = try await chat.streams.open(
                    "POST", "/v1/conversations/\(conversation)/messages", token: chat.token, json: ["content": "x"])
                let reading = Task { try await chat.streams.read(response) }
                try await Task.sleep(for: .milliseconds(300))
                let lapsedAt = ContinuousClock.now
                if lapse == "revoked" {
                    _ = try await api.request(.post, "/api/v1/embed/revoke-token", as: .bearer(chat.tenant.key), json: ["token": chat.token])
                } else {
                    server.clock.advance(by: 3601)  // past the token's one hour
                }
                let stream = try await reading.value
                #expect(ContinuousClock.now - lapsedAt < .seconds(3), "checked every 200 ms here; the rest is a loaded machine")
                #expect(stream.terminal == nil, "the stream ended before the reply did")
                let fresh = try await api.mint(key: chat.tenant.key, workspace: chat.tenant.workspace, extra: ["botId": chat.bot])
                let finished = await eventually {
                    let response = try? await api.request(.get, "/v1/conversations/\(conversation)/messages", as: .bearer(fresh))
                    return ((response?["data"] as? [[String: Any]])?.last?["status"] as? String) == "complete"
                }
                #expect(finished, "the reply itself completed and was stored")
            }
        }
    }

    /// Once a reply's events have left memory, a resume is rebuilt from storage: its terminal
    /// event keeps the seq the live followers saw, and a resume from any point ends with it.
    @Test func aResumeRebuiltFromStorageEndsWithTheTerminalEventAtItsOwnSeq() async throws {
        let words = (1...6).map { "w\($0) " }
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(words) }
        try await upstream.run { base in
            try await TestServer { $0.replyEventRetention = .milliseconds(50) }.run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let live = try await chat.streams.post(conversation, "go", token: chat.token)
                let messageID = try #require(live.messageID)
                let terminalID = try #require(live.terminal?.id)
                #expect(terminalID == "\(messageID):\(words.count + 2)")
                try await Task.sleep(for: .milliseconds(300))  // the run leaves memory

                let path = "/v1/conversations/\(conversation)/messages/\(messageID)/events"
                for seen in [1, 4, words.count + 1, words.count + 2] {
                    let resumed = try await chat.streams.read(
                        try await chat.streams.open("GET", path, token: chat.token, headers: [("Last-Event-ID", "\(messageID):\(seen)")]))
                    #expect(resumed.status == 200)
                    #expect(resumed.events.last?.id == terminalID, "after \(seen)")
                    #expect(resumed.names.last == "response.completed", "after \(seen)")
                    #expect(resumed.terminalMessage["content"] as? String == words.joined())
                }
                let fromStart = try await chat.streams.read(try await chat.streams.open("GET", path, token: chat.token))
                #expect(fromStart.events.map(\.id) == [terminalID], "no Last-Event-ID: the outcome")
            }
        }
    }
}
