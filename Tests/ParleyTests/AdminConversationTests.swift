import Foundation
import HTTPTypes
import Testing
import TestUpstream

@testable import Parley

/// DESIGN.md §7: operators' conversations, export, erasure and usage.
@Suite struct AdminConversationTests {
    /// Two users with one conversation each (one exchange), and a second conversation for u-42.
    func populated(_ api: APIClient, base: String) async throws -> (ChatFixture, other: String, conversations: [String]) {
        let chat = try await ChatFixture.make(api, upstream: base)
        let first = try await chat.newConversation()
        _ = try await chat.streams.post(first, "first question", token: chat.token)
        let second = try await chat.newConversation()
        _ = try await chat.streams.post(second, "second question", token: chat.token)
        let other = try await api.mint(key: chat.tenant.key, workspace: chat.tenant.workspace, user: "u-7")
        let third = try await chat.newConversation(token: other)
        _ = try await chat.streams.post(third, "someone else", token: other)
        return (chat, other, [first, second, third])
    }

    @Test func conversationsAreListedFilteredReadAndDeleted() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["answer"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let (chat, _, ids) = try await populated(api, base: base)
                let path = "/admin/v1/workspaces/\(chat.tenant.workspace)/conversations"
                let all = try await api.request(.get, path)
                #expect((all["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ids.reversed())
                let mine = try await api.request(.get, path + "?user_id=u-7")
                #expect((mine["data"] as? [[String: Any]])?.compactMap { $0["user_id"] as? String } == ["u-7"])
                let paged = try await api.request(.get, path + "?limit=2")
                #expect((paged["data"] as? [Any])?.count == 2)
                let next = try #require(paged["next_cursor"] as? String)
                let rest = try await api.request(.get, path + "?limit=2&cursor=\(next)")
                #expect((rest["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [ids[0]])

                let read = try await api.request(.get, path + "/\(ids[0])")
                #expect(read.string("user_id") == "u-42")
                #expect((read["messages"] as? [[String: Any]])?.compactMap { $0["content"] as? String } == ["first question", "answer"])

                #expect(try await api.request(.delete, path + "/\(ids[0])").status == .noContent)
                #expect(try await api.request(.get, path + "/\(ids[0])").errorCode == "not_found")
                let other = try await Tenant.make(api)
                let foreignKey = try await api.createAPIKey(workspace: other.workspace, scope: "admin")
                #expect(try await api.request(.get, path, as: .bearer(foreignKey)).errorCode == "workspace_not_found")
            }
        }
    }

    @Test func theExportIsNDJSONWithEveryConversationAndItsMessages() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["answer"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let (chat, _, ids) = try await populated(api, base: base)
                let export = try await api.request(.get, "/admin/v1/workspaces/\(chat.tenant.workspace)/export")
                #expect(export.status == .ok)
                #expect(export.headers[.contentType] == "application/x-ndjson")
                let lines = export.text.split(separator: "\n")
                #expect(lines.count == 3)
                let parsed = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
                #expect(Set(parsed.compactMap { $0["id"] as? String }) == Set(ids))
                #expect(parsed.allSatisfy { ($0["messages"] as? [Any])?.count == 2 })
            }
        }
    }

    @Test func erasingAUserRemovesTheirDataAndEndsTheirTokens() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["answer"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let (chat, other, _) = try await populated(api, base: base)
                let workspace = chat.tenant.workspace
                let erased = try await api.request(.delete, "/admin/v1/workspaces/\(workspace)/users/u-42")
                #expect(erased["conversations"] as? Int == 2)
                #expect((erased["tokens"] as? Int ?? 0) >= 1)
                #expect(try await api.session(chat.token).errorCode == "token_revoked")
                let left = try await api.request(.get, "/admin/v1/workspaces/\(workspace)/conversations")
                #expect((left["data"] as? [[String: Any]])?.compactMap { $0["user_id"] as? String } == ["u-7"])
                #expect(try await api.session(other).status == .ok, "other users are untouched")
                let usage = try await api.request(.get, "/admin/v1/workspaces/\(workspace)/usage?group_by=user")
                #expect((usage["data"] as? [[String: Any]])?.compactMap { $0["key"] as? String } == ["u-7"])
                let audit = try await api.request(.get, "/admin/v1/workspaces/\(workspace)/audit?type=user.erased")
                #expect((audit["data"] as? [[String: Any]])?.first?["data"] as? [String: Int] == ["conversations": 2, "tokens": erased["tokens"] as? Int ?? 0])
            }
        }
    }

    @Test func usageIsGroupedByDayBotOrUser() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["a", "b", "c"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let (chat, _, _) = try await populated(api, base: base)
                let path = "/admin/v1/workspaces/\(chat.tenant.workspace)/usage"
                let byUser = try await api.request(.get, path + "?group_by=user")
                let rows = try #require(byUser["data"] as? [[String: Any]])
                #expect(rows.compactMap { $0["key"] as? String } == ["u-42", "u-7"])
                #expect(rows.first?["messages"] as? Int == 2)
                #expect(rows.first?["output_tokens"] as? Int == 6)
                #expect(rows.first?["input_tokens"] as? Int == 22)
                let byBot = try await api.request(.get, path + "?group_by=bot")
                #expect((byBot["data"] as? [[String: Any]])?.first?["key"] as? String == chat.bot)
                #expect((byBot["data"] as? [[String: Any]])?.first?["messages"] as? Int == 3)
                let byDay = try await api.request(.get, path)
                #expect((byDay["data"] as? [Any])?.count == 1)
                #expect(try await api.request(.get, path + "?group_by=week").errorParam == "group_by")
                #expect(try await api.request(.get, path + "?from=yesterday").errorParam == "from")
            }
        }
    }
}
