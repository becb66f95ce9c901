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
