import Foundation
import GRDB
import HTTPTypes
import Testing
import TestUpstream

@testable import Parley

/// DESIGN.md §4, the conversation routes, and who may reach them.
@Suite struct ConversationTests {
    @Test func conversationsAreCreatedListedRenamedAndDeleted() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["ok"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let created = try await api.request(.post, "/v1/conversations", as: .bearer(chat.token), json: ["title": "Plans"])
                #expect(created.status == .created)
                let id = try #require(created.string("id"))
                #expect(id.hasPrefix("conv_"))
                #expect(created.string("title") == "Plans")
                #expect(created.json.keys.sorted() == ["created_at", "id", "last_message_preview", "title", "updated_at"])

                let untitled = try await api.request(.post, "/v1/conversations", as: .bearer(chat.token))
                #expect(untitled.status == .created, "the body is optional")
                #expect(untitled["title"] is NSNull)

                let renamed = try await api.request(.patch, "/v1/conversations/\(id)", as: .bearer(chat.token), json: ["title": "Trip"])
                #expect(renamed.string("title") == "Trip")
                #expect(try await api.request(.get, "/v1/conversations/\(id)", as: .bearer(chat.token)).string("title") == "Trip")

                #expect(try await api.request(.delete, "/v1/conversations/\(id)", as: .bearer(chat.token)).status == .noContent)
                #expect(try await api.request(.get, "/v1/conversations/\(id)", as: .bearer(chat.token)).errorCode == "not_found")
            }
        }
    }

    /// The bot is read with the conversation, in the same read: once deleted, a message to its
    /// conversations is refused before anything is stored or sent upstream.
    @Test func aMessageToAConversationWhoseBotWasDeletedIsNotFound() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["never sent"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let deleted = try await api.request(.delete, "/admin/v1/workspaces/\(chat.tenant.workspace)/bots/\(chat.bot)")
                #expect(deleted.status == .noContent)
                let reply = try await chat.streams.post(conversation, "hello?", token: chat.token)
                #expect(reply.status == 404)
                #expect(reply.events.isEmpty)
                #expect(try await chat.messages(conversation).isEmpty, "nothing was stored")
            }
        }
    }

    @Test func conversationsPageNewestFirst() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            var created: [String] = []
            for index in 0..<5 {
                let response = try await api.request(.post, "/v1/conversations", as: .bearer(token), json: ["title": "c\(index)"])
                created.append(try #require(response.string("id")))
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await api.request(
                    .get, "/v1/conversations?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), as: .bearer(token))
                seen += (page["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                cursor = page["next_cursor"] as? String
            } while cursor != nil
            #expect(seen == created.reversed())
            #expect(try await api.request(.get, "/v1/conversations?limit=101", as: .bearer(token)).errorParam == "limit")
        }
    }

    @Test func messagesPageOldestFirstWithBefore() async throws {
        let upstream = ScriptedUpstream { request in
            FakeProvider.openAI(["re: " + (((request.json?["messages"] as? [[String: String]])?.last?["content"]) ?? "")])
        }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                for index in 0..<3 { _ = try await chat.streams.post(conversation, "m\(index)", token: chat.token) }
                let all = try await chat.messages(conversation)
                #expect(all.compactMap { $0["content"] as? String } == ["m0", "re: m0", "m1", "re: m1", "m2", "re: m2"])
                #expect(all.first?.keys.sorted() == ["content", "conversation_id", "created_at", "finish_reason", "id", "role", "status", "usage"])

                let newest = try await api.request(.get, "/v1/conversations/\(conversation)/messages?limit=2", as: .bearer(chat.token))
                let newestRows = newest["data"] as? [[String: Any]] ?? []
                #expect(newestRows.compactMap { $0["content"] as? String } == ["m2", "re: m2"])
                #expect(newest["has_more"] as? Bool == true)
                let anchor = try #require(newestRows.first?["id"] as? String)
                let older = try await api.request(
                    .get, "/v1/conversations/\(conversation)/messages?limit=10&before=\(anchor)", as: .bearer(chat.token))
                #expect((older["data"] as? [[String: Any]] ?? []).compactMap { $0["content"] as? String } == ["m0", "re: m0", "m1", "re: m1"])
                #expect(older["has_more"] as? Bool == false)
                let unknownAnchor = try await api.request(
                    .get, "/v1/conversations/\(conversation)/messages?before=msg_00000000000000000000", as: .bearer(chat.token))
                #expect(unknownAnchor.errorParam == "before")
            }
        }
    }

    @Test func feedbackIsStoredForAReply() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["ok"]) }
        let server = TestServer()
        try await upstream.run { base in
            try await server.run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let stream = try await chat.streams.post(conversation, "hi", token: chat.token)
                let reply = try #require(stream.messageID)
                let path = "/v1/conversations/\(conversation)/messages/\(reply)/feedback"
                #expect(try await api.request(.post, path, as: .bearer(chat.token), json: ["rating": "up", "comment": "nice"]).status == .noContent)
                #expect(try await api.request(.post, path, as: .bearer(chat.token), json: ["rating": "down"]).status == .noContent)
                #expect(try await api.request(.post, path, as: .bearer(chat.token), json: ["rating": "meh"]).errorParam == "rating")
                let userMessage = try #require(try await chat.messages(conversation).first?["id"] as? String)
                #expect(try await api.request(
                    .post, "/v1/conversations/\(conversation)/messages/\(userMessage)/feedback", as: .bearer(chat.token), json: ["rating": "up"]
                ).errorCode == "not_found")
                let database = try DatabaseQueueReader(server)
                #expect(try database.strings("SELECT rating FROM feedback") == ["down"], "the latest rating replaces the earlier one")
            }
        }
    }

    /// The token's `bid` is part of its scope: the same user's conversation with another bot of the
    /// workspace is as unreachable as another user's.
    @Test func anotherUserWorkspaceOrBotSeesNothingAndCostsNoProviderCall() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["private"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                let reply = try #require(try await chat.streams.post(conversation, "secret", token: chat.token).messageID)
                let callsBefore = upstream.requests.count

                let sameWorkspaceOtherUser = try await api.mint(key: chat.tenant.key, workspace: chat.tenant.workspace, user: "mallory")
                let otherTenant = try await Tenant.make(api)
                let otherWorkspace = try await api.mint(key: otherTenant.key, workspace: otherTenant.workspace, user: "u-42")
                let sameUserOtherBot = try await api.mint(
                    key: chat.tenant.key, workspace: chat.tenant.workspace, user: "u-42", extra: ["botId": chat.tenant.bot])
                let ownConversationWithOtherBot = try await chat.newConversation(token: sameUserOtherBot)
                for intruder in [sameWorkspaceOtherUser, otherWorkspace, sameUserOtherBot] {
                    let c = "/v1/conversations/\(conversation)"
                    let m = "\(c)/messages/\(reply)"
                    let attempts: [(HTTPRequest.Method, String, [String: Any]?)] = [
                        (.get, c, nil), (.patch, c, ["title": "mine"]), (.delete, c, nil), (.get, "\(c)/messages", nil),
                        (.post, "\(c)/messages", ["content": "hi"]), (.get, "\(m)/events", nil), (.post, "\(m)/cancel", nil),
                        (.post, "\(m)/feedback", ["rating": "down"]),
                    ]
                    for (method, path, body) in attempts {
                        let response = try await api.request(method, path, as: .bearer(intruder), json: body)
                        #expect(response.status == .notFound, "\(method) \(path)")
                        #expect(response.errorCode == "not_found", "\(method) \(path)")
                    }
                    let list = try await api.request(.get, "/v1/conversations", as: .bearer(intruder))
                    let listed = (list["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
                    #expect(listed == (intruder == sameUserOtherBot ? [ownConversationWithOtherBot] : []))
                }
                let ownList = try await api.request(.get, "/v1/conversations", as: .bearer(chat.token))
                #expect((ownList["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [conversation], "lists are per bot")
                #expect(upstream.requests.count == callsBefore, "no provider call for anyone else")
                #expect(try await chat.messages(conversation).count == 2, "and nothing of the owner's changed")
            }
        }
    }

    /// The message is stored before anything else: while its commit waits, the provider has not
    /// been asked, and when the commit fails the post fails as a whole, with no provider call.
    @Test func aMessageThatCannotBeStoredIsRefusedBeforeTheProviderIsAsked() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["hello back"]) }
        let server = TestServer()
        try await upstream.run { base in
            try await server.run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                var configuration = Configuration()
                configuration.allowsUnsafeTransactions = true  // the lock below spans two calls
                let database = try DatabaseQueue(path: server.config.databaseURL.path, configuration: configuration)
                try database.write { db in
                    try db.execute(sql: """
                        CREATE TRIGGER refuse_test_message BEFORE INSERT ON messages WHEN NEW.content = 'refuse me'
                        BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                        """)
                }
                // Another connection holds the write lock, so the commit waits (busy timeout).
                try database.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
                async let refused = api.request(
                    .post, "/v1/conversations/\(conversation)/messages", as: .bearer(chat.token), json: ["content": "refuse me"])
                try await Task.sleep(for: .milliseconds(400))
                #expect(upstream.requests.isEmpty, "nothing is asked of the provider while the commit waits")
                try database.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
                #expect(try await refused.status == .internalServerError)
                #expect(try await refused.errorCode == "internal_error")
                #expect(try await chat.messages(conversation).isEmpty, "neither message was stored")
                #expect(upstream.requests.isEmpty, "and the provider was never asked")

                let next = try await chat.streams.post(conversation, "hello", token: chat.token)
                #expect(next.status == 200, "the conversation is free again")
                #expect(next.terminal?.event == "response.completed")
                #expect(try await chat.messages(conversation).count == 2)
            }
        }
    }

    @Test func messageContentIsValidated() async throws {
        try await TestServer().run { api throws in
            let chat = try await ChatFixture.make(api, upstream: "http://127.0.0.1:1")
            let conversation = try await chat.newConversation()
            let path = "/v1/conversations/\(conversation)/messages"
            let tooLong = try await api.request(.post, path, as: .bearer(chat.token), json: ["content": String(repeating: "é", count: 16_385)])
            #expect(tooLong.status == .contentTooLarge)
            #expect(tooLong.errorCode == "payload_too_large")
            #expect(try await api.request(.post, path, as: .bearer(chat.token), json: ["content": ""]).errorParam == "content")
            #expect(try await api.request(.post, path, as: .bearer(chat.token), json: ["text": "hi"]).errorParam == "content")
            #expect(try await api.request(.post, path, as: .bearer(chat.token), json: ["content": 5]).errorParam == "content")
            #expect(try await chat.messages(conversation).isEmpty, "nothing is stored for a refused post")
        }
    }
}

/// Reads a test server's database directly, for facts the API does not show.
struct DatabaseQueueReader {
    let path: String

    init(_ server: TestServer) throws {
        path = server.config.databaseURL.path
    }

    func strings(_ sql: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        return try queue.read { db in try String.fetchAll(db, sql: sql) }
    }
}
