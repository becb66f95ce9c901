import Foundation
import HTTPTypes
import Synchronization
import Testing
import TestUpstream

@testable import Parley

/// Per-user message rate, per-workspace concurrency and daily output budget (DESIGN.md §7).
@Suite struct ChatLimitsTests {
    @Test func messagesPerMinuteIsPerUser() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["ok"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base, settings: ["messages_per_minute": 2])
                let conversation = try await chat.newConversation()
                for _ in 0..<2 { #expect(try await chat.streams.post(conversation, "hi", token: chat.token).status == 200) }
                let limited = try await api.request(
                    .post, "/v1/conversations/\(conversation)/messages", as: .bearer(chat.token), json: ["content": "again"])
                #expect(limited.status == .tooManyRequests)
                #expect(limited.errorCode == "rate_limited")
                #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)

                let other = try await api.mint(key: chat.tenant.key, workspace: chat.tenant.workspace, user: "someone-else")
                let theirs = try await chat.newConversation(token: other)
                #expect(try await chat.streams.post(theirs, "hi", token: other).status == 200, "another user has their own allowance")
            }
        }
    }

    /// Only a stored message counts: a repeat of an earlier post, or a post to a conversation the
    /// user does not have, spends nothing, and a repeat is still answered once the allowance is spent.
    @Test func onlyStoredMessagesSpendTheAllowance() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["ok"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base, settings: ["messages_per_minute": 2])
                let conversation = try await chat.newConversation()
                let someoneElse = try await api.mint(key: chat.tenant.key, workspace: chat.tenant.workspace, user: "someone-else")
                let theirs = try await chat.newConversation(token: someoneElse)
                let first = try await chat.streams.post(conversation, "hi", token: chat.token, clientMessageID: "c-1")
                #expect(first.status == 200)
                for _ in 0..<3 {
                    let repeated = try await chat.streams.post(conversation, "hi", token: chat.token, clientMessageID: "c-1")
                    #expect(repeated.messageID == first.messageID)
                    let intruding = try await api.request(
                        .post, "/v1/conversations/\(theirs)/messages", as: .bearer(chat.token), json: ["content": "hi"])
                    #expect(intruding.status == .notFound)
                }
                let second = try await chat.streams.post(conversation, "two", token: chat.token, clientMessageID: "c-2")
                #expect(second.status == 200, "the second message of the minute is still allowed")
                let third = try await api.request(
                    .post, "/v1/conversations/\(conversation)/messages", as: .bearer(chat.token),
                    json: ["content": "three", "client_message_id": "c-3"])
                #expect(third.status == .tooManyRequests)
                let lateRepeat = try await chat.streams.post(conversation, "hi", token: chat.token, clientMessageID: "c-1")
                #expect(lateRepeat.status == 200)
                #expect(lateRepeat.messageID == first.messageID, "a repeat is answered with the allowance spent")
                #expect(try await chat.messages(conversation).count == 4)
            }
        }
        #expect(upstream.requests.count == 2)
    }

    /// A post refused while the conversation's reply streams stores nothing, so it spends nothing.
    @Test func aPostRefusedWhileAReplyStreamsSpendsNothing() async throws {
        // The first reply is held until the refusals are in, however slowly a loaded machine runs them.
        let gate = ScriptedUpstream.Gate()
        let upstream = ScriptedUpstream { _ in
            var reply = FakeProvider.openAI(["slow"])
            reply.steps.insert(.wait(gate), at: 1)
            return reply
        }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base, settings: ["messages_per_minute": 2])
                let conversation = try await chat.newConversation()
                let open = try await chat.streams.open(
                    "POST", "/v1/conversations/\(conversation)/messages", token: chat.token, json: ["content": "one"])
                for attempt in 0..<3 {
                    let refused = try await api.request(
                        .post, "/v1/conversations/\(conversation)/messages", as: .bearer(chat.token), json: ["content": "again"])
                    #expect(refused.status == .conflict, "attempt \(attempt)")
                }
                gate.open()
                _ = try await chat.streams.read(open)
                #expect(try await chat.streams.post(conversation, "two", token: chat.token).status == 200)
                let third = try await api.request(
                    .post, "/v1/conversations/\(conversation)/messages", as: .bearer(chat.token), json: ["content": "three"])
                #expect(third.status == .tooManyRequests)
            }
        }
        #expect(upstream.requests.count == 2)
    }

    @Test func concurrentRepliesPerWorkspaceAreCapped() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["slow"], pause: .milliseconds(600)) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base, settings: ["max_concurrent_replies": 1])
                let first = try await chat.newConversation()
                let second = try await chat.newConversation()
                let open = try await chat.streams.open("POST", "/v1/conversations/\(first)/messages", token: chat.token, json: ["content": "a"])
                let refused = try await api.request(.post, "/v1/conversations/\(second)/messages", as: .bearer(chat.token), json: ["content": "b"])
                #expect(refused.status == .tooManyRequests)
                #expect(refused.errorCode == "rate_limited")
                _ = try await chat.streams.read(open)
                #expect(try await chat.streams.post(second, "b", token: chat.token).status == 200, "the slot frees when the reply ends")
            }
        }
    }

    @Test func theDailyOutputBudgetIsReservedBeforeTheCall() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["x", "y"], pause: .milliseconds(300)) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                // Each reply reserves its bot's max_output_tokens (256): a budget of 300 fits one.
                let chat = try await ChatFixture.make(api, upstream: base, settings: ["daily_output_token_budget": 300])
                let first = try await chat.newConversation()
                let second = try await chat.newConversation()
                let open = try await chat.streams.open("POST", "/v1/conversations/\(first)/messages", token: chat.token, json: ["content": "a"])
                let refused = try await api.request(.post, "/v1/conversations/\(second)/messages", as: .bearer(chat.token), json: ["content": "b"])
                #expect(refused.errorCode == "rate_limited", "a concurrent reply cannot overspend the budget")
                let done = try await chat.streams.read(open)
                #expect((done.terminalMessage["usage"] as? [String: Any])?["output_tokens"] as? Int == 2)
                // Reconciled with the real figure: 2 used + 256 reserved fits in 300 again.
                #expect(try await chat.streams.post(second, "b", token: chat.token).status == 200)
            }
        }
    }

    @Test func botsWithInternalProviderURLsAreRefusedUnlessAllowed() async throws {
        try await TestServer(adjust: { $0.allowPrivateUpstreams = false }).run { api throws in
            let workspace = try await api.createWorkspace()
            for url in ["http://127.0.0.1:11434/v1", "http://169.254.169.254/latest", "http://10.0.0.7/v1", "http://[::1]:8080/v1", "http://localhost/v1"] {
                let response = try await api.request(
                    .post, "/admin/v1/workspaces/\(workspace)/bots",
                    json: ["name": "B", "provider": ["kind": "openai", "model": "m", "base_url": url]])
                #expect(response.status == .badRequest, "\(url)")
                #expect(response.errorParam == "provider.base_url", "\(url)")
            }
        }
        try await TestServer(adjust: { $0.allowPrivateUpstreams = true }).run { api throws in
            let workspace = try await api.createWorkspace()
            let response = try await api.request(
                .post, "/admin/v1/workspaces/\(workspace)/bots",
                json: ["name": "B", "provider": ["kind": "openai", "model": "m", "base_url": "http://127.0.0.1:11434/v1"]])
            #expect(response.status == .created)
        }
    }
}

/// The address ranges the SSRF guard refuses.
@Suite struct AddressPolicyTests {
    @Test(arguments: [
        [127, 0, 0, 1], [10, 1, 2, 3], [172, 16, 0, 1], [172, 31, 255, 255], [192, 168, 1, 1], [169, 254, 169, 254],
        [100, 64, 0, 1], [100, 127, 255, 255], [0, 0, 0, 0], [224, 0, 0, 1], [255, 255, 255, 255], [198, 18, 0, 1],
    ] as [[UInt8]])
    func internalIPv4(address: [UInt8]) {
        #expect(AddressPolicy.isInternal(address))
    }

    @Test(arguments: [[8, 8, 8, 8], [1, 1, 1, 1], [172, 32, 0, 1], [100, 128, 0, 1], [192, 169, 0, 1], [52, 1, 2, 3]] as [[UInt8]])
    func publicIPv4(address: [UInt8]) {
        #expect(!AddressPolicy.isInternal(address))
    }

    @Test func ipv6Ranges() {
        func v6(_ groups: [UInt16]) -> [UInt8] { groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } }
        #expect(AddressPolicy.isInternal(v6([0, 0, 0, 0, 0, 0, 0, 1])), "::1")
        #expect(AddressPolicy.isInternal(v6([0, 0, 0, 0, 0, 0, 0, 0])), "::")
        #expect(AddressPolicy.isInternal(v6([0xFE80, 0, 0, 0, 0, 0, 0, 1])), "link-local")
        #expect(AddressPolicy.isInternal(v6([0xFD00, 0, 0, 0, 0, 0, 0, 1])), "unique local")
        #expect(AddressPolicy.isInternal(v6([0, 0, 0, 0, 0, 0xFFFF, 0x7F00, 0x0001])), "IPv4-mapped loopback")
        #expect(AddressPolicy.isInternal(v6([0, 0, 0, 0, 0, 0xFFFF, 0xA9FE, 0xA9FE])), "IPv4-mapped metadata")
        #expect(AddressPolicy.isInternal(v6([0xFF02, 0, 0, 0, 0, 0, 0, 1])), "multicast")
        #expect(!AddressPolicy.isInternal(v6([0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111])), "a public address")
        #expect(AddressPolicy.curlLiteral(v6([0, 0, 0, 0, 0, 0, 0, 1])) == "[0:0:0:0:0:0:0:1]")
    }
}

/// The SSRF guard's memory of DNS answers: a reply does not wait on DNS, and replies starting
/// together share one lookup, yet every check still judges the addresses.
@Suite struct UpstreamGuardAnswerTests {
    /// A resolver that answers from a table and counts its lookups, and a clock the test moves.
    final class World: Sendable {
        let answers: [String: [[UInt8]]]
        let lookups = Mutex<[String]>([])
        let clock = Mutex(ContinuousClock.now)

        init(_ answers: [String: [[UInt8]]]) { self.answers = answers }

        func makeGuard() -> UpstreamGuard {
            UpstreamGuard(
                allowPrivate: false, answerLifetime: .seconds(60),
                resolve: { host in
                    self.lookups.withLock { $0.append(host) }
                    // Long enough that the concurrent checks below find the lookup under way.
                    try? await Task.sleep(for: .milliseconds(20))
                    return self.answers[host] ?? []
                },
                now: { self.clock.withLock { $0 } })
        }

        func advance(_ duration: Duration) { clock.withLock { $0 += duration } }
        var lookupCount: Int { lookups.withLock { $0.count } }
    }

    static let publicAddress: [UInt8] = [93, 184, 216, 34]

    @Test func concurrentChecksShareOneLookupAndTheAnswerIsKeptForItsLifetime() async {
        let world = World(["api.example.com": [Self.publicAddress]])
        let upstreamGuard = world.makeGuard()
        let verdicts = await withTaskGroup(of: UpstreamGuard.Verdict.self) { group in
            for index in 0..<20 {
                group.addTask { await upstreamGuard.check(index % 2 == 0 ? "https://api.example.com/v1" : "https://API.Example.com/v1") }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let pinned = verdicts.map { verdict -> [String] in
            guard case .allowed(let pins) = verdict else { return [] }
            return pins.map { $0.lowercased() }
        }
        #expect(pinned == Array(repeating: ["api.example.com:443:93.184.216.34"], count: 20), "each pinned to the checked address")
        #expect(world.lookupCount == 1, "twenty checks, one lookup (host names are case-insensitive)")

        world.advance(.seconds(59))
        _ = await upstreamGuard.check("https://api.example.com/v1/chat")
        #expect(world.lookupCount == 1, "still fresh")
        world.advance(.seconds(2))
        #expect(await upstreamGuard.check("https://api.example.com/v1") == .allowed(resolve: ["api.example.com:443:93.184.216.34"]))
        #expect(world.lookupCount == 2, "lapsed, so asked again")
    }

    @Test func aKeptInternalAnswerIsStillRefusedAndAnUnresolvedHostIsAskedAgain() async {
        let world = World(["rebound.example.com": [[127, 0, 0, 1]]])
        let upstreamGuard = world.makeGuard()
        for _ in 0..<2 {
            guard case .forbidden = await upstreamGuard.check("https://rebound.example.com/v1") else {
                Issue.record("an internal address must be refused")
                return
            }
        }
        #expect(world.lookupCount == 1)
        #expect(await upstreamGuard.check("https://missing.example.com/v1") == .unresolvable)
        #expect(await upstreamGuard.check("https://missing.example.com/v1") == .unresolvable)
        #expect(world.lookupCount == 3, "a host that did not resolve is not remembered")
    }

    @Test func theTableIsBoundedAndMakesRoomFromLapsedAnswersFirst() async {
        let world = World([:])
        let answers = HostAnswers(lifetime: .seconds(60), resolve: { _ in [Self.publicAddress] }, now: { world.clock.withLock { $0 } })
        let half = HostAnswers.maxHosts / 2
        for index in 0..<half { _ = await answers.addresses(of: "old\(index).example.com") }
        world.advance(.seconds(61))
        for index in 0..<half { _ = await answers.addresses(of: "new\(index).example.com") }
        #expect(answers.count == HostAnswers.maxHosts)
        _ = await answers.addresses(of: "one-more.example.com")
        #expect(answers.count == half + 1, "the lapsed half made room; the fresh half stayed")

        for index in answers.count..<HostAnswers.maxHosts { _ = await answers.addresses(of: "more\(index).example.com") }
        #expect(answers.count == HostAnswers.maxHosts)
        _ = await answers.addresses(of: "last.example.com")
        #expect(answers.count == 1, "with nothing lapsed, everything went")
    }
}

/// The SSE parser shared by both providers.
@Suite struct ServerSentEventDecoderTests {
    static let stream = "event: a\ndata: one\n\n: comment\r\ndata: two\r\ndata: lines\r\n\r\nid: 7\rdata: ünï 🎉\r\rdata: cr\rdata: then lf\n\n"

    @Test func decodesEveryLineEndingAndMultiLineData() throws {
        var decoder = ServerSentEventDecoder()
        let events = try decoder.feed(Array(Self.stream.utf8))
        #expect(events == [
            ServerSentEvent(event: "a", data: "one", id: nil),
            ServerSentEvent(event: nil, data: "two\nlines", id: nil),
            ServerSentEvent(event: nil, data: "ünï 🎉", id: "7"),
            ServerSentEvent(event: nil, data: "cr\nthen lf", id: "7"),
        ])
    }

    @Test func givesTheSameEventsWhereverTheBytesAreCut() throws {
        var whole = ServerSentEventDecoder()
        let expected = try whole.feed(Array(Self.stream.utf8))
        let bytes = Array(Self.stream.utf8)
        for cut in 0...bytes.count {
            var decoder = ServerSentEventDecoder()
            let events = try decoder.feed(bytes[..<cut]) + decoder.feed(bytes[cut...])
            #expect(events == expected, "cut at byte \(cut)")
        }
        var byteByByte = ServerSentEventDecoder()
        #expect(try bytes.flatMap { try byteByByte.feed([$0]) } == expected)
    }

    @Test func refusesALineOverTheCap() {
        var decoder = ServerSentEventDecoder(maxLineBytes: 16)
        #expect(throws: ServerSentEventDecoder.LineTooLong.self) { try decoder.feed(Array(String(repeating: "x", count: 17).utf8)) }
    }
}

/// Which history a reply sends.
@Suite struct ContextWindowTests {
    func message(_ role: ProviderRequest.Message.Role, _ size: Int) -> ProviderRequest.Message {
        .init(role: role, content: String(repeating: "a", count: size))
    }

    @Test func keepsTheNewestMessagesThatFitAndDropsTheOldest() {
        let history = [message(.user, 400), message(.assistant, 400), message(.user, 400), message(.assistant, 400), message(.user, 40)]
        // Each 400-byte message costs 104, the last 14; budget = 400 - 100 = 300.
        let chosen = ContextWindow.select(history: history, systemPrompt: "", contextTokens: 400, maxOutputTokens: 100)
        #expect(chosen == Array(history.suffix(3)))
    }

    @Test func alwaysKeepsTheLatestMessage() {
        let chosen = ContextWindow.select(history: [message(.user, 100_000)], systemPrompt: "", contextTokens: 300, maxOutputTokens: 100)
        #expect(chosen.count == 1)
    }
}
