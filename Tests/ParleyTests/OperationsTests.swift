import Foundation
import GRDB
import HTTPTypes
import Logging
import Testing
import TestUpstream

@testable import Parley

/// Backup and retention (issue 5).
@Suite struct OperationsTests {
    @Test func aBackupTakenWhileServingIsAConsistentCopy() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["kept"]) }
        let server = TestServer()
        try await upstream.run { base in
            try await server.run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base)
                let conversation = try await chat.newConversation()
                _ = try await chat.streams.post(conversation, "remember me", token: chat.token)
                let destination = FileManager.default.temporaryDirectory.appendingPathComponent("parley-backup-\(UUID().uuidString).sqlite")
                defer { try? FileManager.default.removeItem(at: destination) }
                let previous = umask(0o022)  // the usual mask, which would leave a new file world-readable
                defer { umask(previous) }
                try OperatorTasks.backup(server.config, to: destination)
                let mode = try FileManager.default.attributesOfItem(atPath: destination.path)[.posixPermissions] as? Int
                #expect(mode == 0o600, "readable by its owner only")
                #expect(throws: ConfigError.self) { try OperatorTasks.backup(server.config, to: destination) }

                let copy = try DatabaseQueue(path: destination.path)
                let (integrity, contents, migrations) = try copy.read { db in
                    (try String.fetchOne(db, sql: "PRAGMA integrity_check"),
                     try String.fetchAll(db, sql: "SELECT content FROM messages ORDER BY seq"),
                     try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations"))
                }
                #expect(integrity == "ok")
                #expect(contents == ["remember me", "kept"])
                #expect(migrations == EmbeddedMigrations.all.count)
                // Still serving after the backup.
                #expect(try await chat.streams.post(conversation, "again", token: chat.token).deltas == "kept")
            }
        }
    }

    @Test func retentionDeletesOnlyConversationsOlderThanTheWorkspaceSetting() async throws {
        let server = TestServer()
        try await server.run { api throws in
            let keep = try await Tenant.make(api)
            let expire = try await Tenant.make(api, settings: ["retention_days": 30])
            let keepToken = try await api.mint(key: keep.key, workspace: keep.workspace)
            let expireToken = try await api.mint(key: expire.key, workspace: expire.workspace)
            for token in [keepToken, expireToken] {
                for _ in 0..<5 { _ = try await api.request(.post, "/v1/conversations", as: .bearer(token), json: [:]) }
            }
            server.clock.advance(by: 31 * 86_400)
            let recentToken = try await api.mint(key: expire.key, workspace: expire.workspace, user: "recent")
            _ = try await api.request(.post, "/v1/conversations", as: .bearer(recentToken), json: [:])

            let database = try ParleyDatabase.open(at: server.config.databaseURL, durability: .normal, busyTimeout: .seconds(5))
            let rowCache = ConfigurationRowCache()
            let stores = Stores.sqlite(database, cache: rowCache)
            let chat = SQLiteChatStore(writer: database.writer, committer: GroupCommitter(writer: database.writer), cache: rowCache)
            let sweeper = RetentionSweeper(
                workspaces: stores.workspaces, chat: chat, clock: server.clock.wallClock,
                logger: Logger(label: "test"), batchSize: 2, pause: .milliseconds(1))
            #expect(try await sweeper.sweep() == 5)
            let left = try await api.request(.get, "/admin/v1/workspaces/\(expire.workspace)/conversations")
            #expect((left["data"] as? [[String: Any]])?.compactMap { $0["user_id"] as? String } == ["recent"])
            let kept = try await api.request(.get, "/admin/v1/workspaces/\(keep.workspace)/conversations")
            #expect((kept["data"] as? [Any])?.count == 5, "a workspace without retention_days keeps everything")
            #expect(try await sweeper.sweep() == 0)
        }
    }

    @Test func metricsDescribeRequestsRepliesStreamsAndLimits() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["one", "two"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base, settings: ["messages_per_minute": 1])
                let conversation = try await chat.newConversation()
                _ = try await chat.streams.post(conversation, "hi", token: chat.token)
                _ = try await api.request(.post, "/v1/conversations/\(conversation)/messages", as: .bearer(chat.token), json: ["content": "again"])

                let metrics = try await api.request(.get, "/metrics")
                #expect(metrics.status == .ok)
                #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = metrics.text
                #expect(text.contains(#"parley_http_requests_total{route="/v1/conversations/{cid}/messages",method="POST",status="200"} 1"#))
                #expect(text.contains(#"parley_replies_total{outcome="complete"} 1"#))
                #expect(text.contains(#"parley_tokens_total{direction="output"} 2"#))
                #expect(text.contains(#"parley_rate_limited_total{limit="messages_per_minute"} 1"#))
                #expect(text.contains("parley_provider_time_to_first_token_seconds_count 1"))
                #expect(text.contains("parley_sse_streams_open 0"))
                #expect(text.contains("parley_sqlite_write_duration_seconds_count"))
                #expect(!text.contains(conversation), "routes are templates, never ids")

                let workspaceAdmin = try await api.createAPIKey(workspace: chat.tenant.workspace, scope: "admin")
                #expect(try await api.request(.get, "/metrics", as: .bearer(workspaceAdmin)).errorCode == "forbidden")
                #expect(try await api.request(.get, "/metrics", as: .none).errorCode == "missing_token")
            }
        }
    }
}
