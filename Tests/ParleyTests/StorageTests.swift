import Foundation
import GRDB
import Logging
import NIOCore
import Synchronization
import Testing

@testable import Parley

/// The SQLite file, its migrations and the group committer.
@Suite struct StorageTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The workspace `ws_1`, for tests whose rows need one to belong to.
    static let workspace = WorkspaceRecord(
        id: "ws_1", name: "W", allowedOrigins: [], settings: WorkspaceSettings(), defaultBotId: nil, viewSecretSealed: Data([1]),
        createdAt: 1, updatedAt: 1)

    /// The bot `bot_1` of `ws_1`, and `conv_1`, the conversation of `u-1` it answers.
    static let bot = BotRecord(
        id: "bot_1", workspaceId: "ws_1", name: "B", providerKind: .openai, baseUrl: "https://x.example/v1", apiKeySealed: nil,
        apiKeyLast4: nil, model: "m-1", systemPrompt: "", temperature: nil, maxOutputTokens: 256, contextTokens: 4_000, greeting: nil,
        theme: BotTheme(primaryColor: nil, launcherIcon: nil, position: nil), createdAt: 1, updatedAt: 1)
    static let conversation = ConversationRecord(
        id: "conv_1", workspaceId: "ws_1", userId: "u-1", botId: "bot_1", title: nil, lastMessagePreview: nil, createdAt: 1, updatedAt: 1)

    /// Inserts `workspace`, `bot` and `conversation`.
    static func insertConversation(_ db: Database, bot: BotRecord = bot) throws {
        try workspace.insert(db)
        try bot.insert(db)
        try conversation.insert(db)
    }

    func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    func temporaryDatabase() throws -> (ParleyDatabase, URL) {
        let folder = try temporaryFolder()
        let database = try ParleyDatabase.open(at: folder.appendingPathComponent("parley.sqlite"), durability: .full, busyTimeout: .seconds(5))
        return (database, folder)
    }

    @Test func everyMigrationFileIsEmbeddedInOrder() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.packageRoot.appendingPathComponent("Migrations").path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(!files.isEmpty)
        #expect(EmbeddedMigrations.all.map(\.identifier) == files.map { String($0.dropLast(4)) })
        for name in files {
            #expect(name.range(of: #"^\d{4}_[a-z0-9_]+\.sql$"#, options: .regularExpression) != nil, "\(name) follows NNNN_name.sql")
        }
    }

    @Test func aNewDatabaseIsMigratedInWALWithForeignKeysAndRecordsIt() async throws {
        let (database, folder) = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try database.appliedMigrations() == EmbeddedMigrations.all.map(\.identifier))
        try await database.writer.read { db throws in
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
            #expect(try Int.fetchOne(db, sql: "PRAGMA foreign_keys") == 1)
            for table in ["workspaces", "bots", "api_keys", "admin_keys", "signing_keys", "embed_tokens", "conversations",
                          "messages", "feedback", "audit_events", "usage_daily"] {
                #expect(try db.tableExists(table), "\(table)")
            }
        }
        try database.migrate()
        #expect(try database.appliedMigrations().count == EmbeddedMigrations.all.count, "migrating again changes nothing")
    }

    /// Durability is a setting of the connection that commits: the pool's writer. GRDB sets that
    /// connection to `synchronous = NORMAL` when it turns WAL on, after `prepareDatabase` has run,
    /// so a check made through a reader would pass while commits skip their fsync.
    @Test(arguments: [(ParleyConfig.Durability.full, 2), (.normal, 1)])
    func theWriterIsAtTheConfiguredSynchronousLevel(durability: ParleyConfig.Durability, level: Int) async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = try ParleyDatabase.open(at: folder.appendingPathComponent("parley.sqlite"), durability: durability, busyTimeout: .seconds(5))
        let writerLevel = try await database.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(writerLevel == level)
    }

    /// The rows every mint writes (an issued token, an audit line with nested details) fill every
    /// column of their tables and read back as written.
    @Test func mintRowsRoundTripThroughEveryColumn() async throws {
        let (database, folder) = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        let workspace = Self.workspace
        let token = EmbedTokenRecord(
            jti: "jti_1", workspaceId: "ws_1", userId: "u-1", botId: "bot_1", kid: "k1", apiKeyId: "key_1", issuedAt: 10, expiresAt: 20,
            revokedAt: 15)
        let event = AuditEvent(
            workspaceId: "ws_1", type: "token.issued", actor: "key_1", userId: "u-1",
            data: ["jti": .string("jti_1"), "ttl": .number(3600), "nested": .object(["list": .array([.bool(true), .null])])], createdAt: 10)
        let audit = try await database.writer.write { db in
            try workspace.insert(db)
            try token.insert(db)
            let audit = try event.inserted(db)
            for (columns, table) in [(try token.databaseDictionary.keys, "embed_tokens"), (try audit.databaseDictionary.keys, "audit_events")] {
                #expect(Set(columns) == Set(try db.columns(in: table).map(\.name)), "\(table)")
            }
            return audit
        }
        #expect(audit.seq != nil, "the row id comes back")
        // Rows inserted one by one, as the group committer writes them, read back as written.
        let secondToken = EmbedTokenRecord(
            jti: "jti_2", workspaceId: "ws_1", userId: "u-2", botId: "bot_1", kid: "k1", apiKeyId: nil, issuedAt: 11, expiresAt: 21,
            revokedAt: nil)
        let secondAudit = try await database.writer.write { db in
            try secondToken.insert(db)
            try event.insert(db)
            var written = event
            written.seq = db.lastInsertedRowID
            return written
        }
        try await database.writer.read { db throws in
            #expect(try EmbedTokenRecord.fetchOne(db, key: "jti_2") == secondToken)
            #expect(try AuditEvent.fetchOne(db, key: secondAudit.seq) == secondAudit)
        }
        try await database.writer.read { db in
            #expect(try EmbedTokenRecord.fetchOne(db, key: "jti_1") == token)
            #expect(try AuditEvent.fetchOne(db, key: audit.seq) == audit)
            let stored = try String.fetchOne(db, sql: "SELECT data FROM audit_events")
            #expect(stored == String(decoding: try AuditEvent.databaseJSONEncoder(for: "data").encode(audit.data), as: UTF8.self))
        }
    }

    /// Every column a record writes is a column of its table, and the table's every column is written.
    static func expectWholeRows(_ db: Database, of records: any EncodableRecord & TableRecord...) throws {
        for record in records {
            let table = type(of: record).databaseTableName
            #expect(Set(try db.columns(in: table).map(\.name)) == Set(try record.databaseDictionary.keys), "\(table)")
        }
    }

    /// Conversations and messages come back from their tables as they were written, through any
    /// selection of all their columns; a role outside the enum is an error, not a guess.
    @Test func conversationAndMessageRecordsRoundTripThroughTheirTables() async throws {
        let (database, folder) = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        let conversation = ConversationRecord(
            seq: nil, id: "conv_1", workspaceId: "ws_1", userId: "u-1", botId: "bot_1", title: "t", lastMessagePreview: "p",
            createdAt: 1, updatedAt: 2)
        let everyColumnSet = MessageRecord(
            seq: nil, id: "msg_1", conversationId: "conv_1", workspaceId: "ws_1", userId: "u-1", botId: "bot_1", role: .assistant,
            content: "hello", status: .cancelled, finishReason: "stop", errorCode: "provider_error", model: "m", inputTokens: 3,
            outputTokens: 4, clientMessageId: "c-1", replyTo: "msg_0", createdAt: 5, updatedAt: 6)
        let noOptionalSet = MessageRecord(
            seq: nil, id: "msg_0", conversationId: "conv_1", workspaceId: "ws_1", userId: "u-1", botId: "bot_1", role: .user,
            content: "hi", status: nil, finishReason: nil, errorCode: nil, model: nil, inputTokens: nil, outputTokens: nil,
            clientMessageId: nil, replyTo: nil, createdAt: 5, updatedAt: 5)
        let written = try await database.writer.write { db in
            try Self.workspace.insert(db)
            let conversation = try conversation.inserted(db)
            // A plain insert, as posting a message does; SQLite assigns the sequence number.
            try noOptionalSet.insert(db)
            var first = noOptionalSet
            first.seq = db.lastInsertedRowID
            return (conversation, first, try everyColumnSet.inserted(db))
        }
        try await database.writer.read { db in
            try Self.expectWholeRows(db, of: conversation, everyColumnSet)
            #expect(try ConversationRecord.fetchOne(db, key: written.0.seq) == written.0)
            #expect(try MessageRecord.order(Column("seq")).fetchAll(db) == [written.1, written.2])
            #expect(try MessageRecord.fetchAll(db, sql: "SELECT * FROM messages ORDER BY seq") == [written.1, written.2])
            #expect(throws: (any Error).self, "a value outside the enum is an error, not a guess") {
                try MessageRecord.fetchAll(db, sql: "SELECT 'system' AS role, * FROM messages")
            }
        }
    }

    /// History is read page by page, newest page first and each page oldest first, down to the
    /// first message, at several page sizes; text another program stored as invalid UTF-8 is
    /// repaired, not refused; and only the conversation's owner (user and bot) reads it.
    @Test func historyPagesReachTheOldestMessageForTheOwnerOnly() async throws {
        let (database, folder) = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        let chat = SQLiteChatStore(writer: database.writer, committer: GroupCommitter(writer: database.writer), cache: ConfigurationRowCache())
        var messages: [MessageRecord] = []
        for index in 0..<60 {
            let time = 1_764_547_200_000 + Int64(index) * 1_234
            messages.append(
                MessageRecord(
                    id: "msg_\(index)", conversationId: "conv_1", workspaceId: "ws_1", userId: "u-1", botId: "bot_1",
                    role: index % 2 == 0 ? .user : .assistant, content: "text \(index)", status: index % 2 == 0 ? nil : .complete,
                    finishReason: nil, errorCode: nil, model: "m", inputTokens: nil, outputTokens: nil, clientMessageId: nil, replyTo: nil,
                    createdAt: time, updatedAt: time))
        }
        let stored = messages
        try await database.writer.write { db in
            try Self.workspace.insert(db)
            for (id, user) in [("conv_1", "u-1"), ("conv_2", "u-2"), ("conv_empty", "u-1")] {
                try ConversationRecord(
                    id: id, workspaceId: "ws_1", userId: user, botId: "bot_1", title: nil, lastMessagePreview: nil, createdAt: 1, updatedAt: 1
                ).insert(db)
            }
            // Text Parley would not write: invalid UTF-8, as another program might leave it.
            try db.execute(
                sql: """
                    INSERT INTO messages (id, conversation_id, workspace_id, user_id, bot_id, role, content, created_at, updated_at)
                    VALUES ('msg_raw', 'conv_1', 'ws_1', 'u-1', 'bot_1', 'user', CAST(x'41ff42c3' AS TEXT), 9, 9)
                    """)
            for message in stored { try message.insert(db) }
            var other = stored[0]
            other.id = "msg_other"
            other.conversationId = "conv_2"
            try other.insert(db)
        }
        let owner = ConversationOwner(workspaceID: "ws_1", userID: "u-1", botID: "bot_1")
        for limit in [1, 7, 50, 200] {
            var before: String?
            var seen: [String] = []
            repeat {
                let page = try #require(try await chat.messages(conversationID: "conv_1", owner: owner, limit: limit, before: before))
                #expect(page.items.count == min(limit, 61 - seen.count))
                seen = page.items.map(\.id) + seen
                before = page.hasMore ? page.items.first?.id : nil
            } while before != nil
            #expect(seen == ["msg_raw"] + stored.map(\.id), "limit \(limit): every page, down to the oldest, in order")
        }
        let oldest = try #require(try await chat.messages(conversationID: "conv_1", owner: owner, limit: 61, before: nil)).items.first
        #expect(oldest?.content == "A\u{FFFD}B\u{FFFD}", "repaired")
        #expect(try await chat.messages(conversationID: "conv_empty", owner: owner, limit: 50, before: nil)?.items.isEmpty == true)
        for stranger in [ConversationOwner(workspaceID: "ws_1", userID: "u-2", botID: "bot_1"), ConversationOwner(workspaceID: "ws_1", userID: "u-1", botID: "bot_2")] {
            #expect(try await chat.messages(conversationID: "conv_1", owner: stranger, limit: 50, before: nil) == nil)
        }
        #expect(try await chat.messages(conversationID: "conv_9", owner: owner, limit: 50, before: nil) == nil)
        await #expect(throws: ParleyError.self, "an anchor in another conversation") {
            _ = try await chat.messages(conversationID: "conv_1", owner: owner, limit: 50, before: "msg_other")
        }
    }

    /// Workspaces, bots and issued tokens come back as written, JSON columns included, and rows an
    /// earlier version stored (settings with only the keys that differ from the defaults) still read.
    @Test func configurationRecordsRoundTripAndReadEarlierRows() async throws {
        let (database, folder) = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = WorkspaceSettings()
        settings.dailyOutputTokenBudget = 5_000
        settings.tokenMintRatePerSecond = 2.5
        let unlinked = WorkspaceRecord(
            id: "ws_2", name: "Every column", allowedOrigins: ["https://a.example", "https://b.example"], settings: settings,
            defaultBotId: nil, viewSecretSealed: Data([9, 8, 7]), createdAt: 3, updatedAt: 4)
        let everyBotColumnSet = BotRecord(
            id: "bot_1", workspaceId: "ws_2", name: "B", providerKind: .anthropic, baseUrl: "https://x.example/v1", apiKeySealed: Data([1, 2]),
            apiKeyLast4: "abcd", model: "m", systemPrompt: "Be brief.", temperature: 0.25, maxOutputTokens: 512, contextTokens: 8_000,
            greeting: "Hi", theme: BotTheme(primaryColor: "#112233", launcherIcon: "chat", position: "left"), createdAt: 5, updatedAt: 6)
        let noOptionalBotColumnSet = BotRecord(
            id: "bot_2", workspaceId: "ws_2", name: "C", providerKind: .openai, baseUrl: "https://y.example/v1", apiKeySealed: nil,
            apiKeyLast4: nil, model: "n", systemPrompt: "", temperature: nil, maxOutputTokens: 256, contextTokens: 4_000, greeting: nil,
            theme: BotTheme(primaryColor: nil, launcherIcon: nil, position: nil), createdAt: 7, updatedAt: 7)
        let token = EmbedTokenRecord(
            jti: "jti_1", workspaceId: "ws_2", userId: "u-1", botId: "bot_1", kid: "k1", apiKeyId: nil, issuedAt: 10, expiresAt: 20,
            revokedAt: nil)
        var workspace = unlinked
        workspace.defaultBotId = "bot_1"
        try await database.writer.write { [workspace] db in
            try unlinked.insert(db)
            try everyBotColumnSet.insert(db)
            try noOptionalBotColumnSet.insert(db)
            try workspace.update(db)
            try token.insert(db)
            // As an earlier version stored them: settings with only the keys that differ from
            // the defaults, and an empty theme.
            try db.execute(sql: """
                INSERT INTO workspaces VALUES ('ws_old', 'Old', '["https://old.example"]', '{"max_token_ttl":7200}', NULL, x'01', 1, 1);
                INSERT INTO bots VALUES ('bot_old', 'ws_old', 'O', 'openai', 'https://o.example/v1', NULL, NULL, 'o', '', NULL, 100, 1000,
                                         NULL, '{}', 1, 1);
                """)
        }
        try await database.writer.read { [workspace] db in
            try Self.expectWholeRows(db, of: workspace, everyBotColumnSet, token)
            #expect(try WorkspaceRecord.lookUp(db, id: "ws_2") == workspace)
            #expect(try WorkspaceRecord.fetchOne(db, sql: "SELECT * FROM workspaces WHERE id = 'ws_2'") == workspace)
            #expect(try BotRecord.lookUp(db, workspaceID: "ws_2", botID: "bot_1") == everyBotColumnSet)
            #expect(try BotRecord.filter(Column("workspace_id") == "ws_2").order(Column("id")).fetchAll(db) == [
                everyBotColumnSet, noOptionalBotColumnSet,
            ])
            #expect(try BotRecord.lookUp(db, workspaceID: "ws_1", botID: "bot_1") == nil, "a bot is found only in its own workspace")
            #expect(try EmbedTokenRecord.lookUp(db, jti: "jti_1") == token)
            #expect(try EmbedTokenRecord.fetchOne(db, sql: "SELECT * FROM embed_tokens") == token)

            let old = try #require(try WorkspaceRecord.lookUp(db, id: "ws_old"))
            var expected = WorkspaceSettings()
            expected.maxTokenTTL = 7_200
            #expect(old.settings == expected, "absent settings take their defaults")
            #expect(old.allowedOrigins == ["https://old.example"])
            let oldBot = try #require(try BotRecord.lookUp(db, workspaceID: "ws_old", botID: "bot_old"))
            #expect(oldBot.theme == BotTheme(primaryColor: nil, launcherIcon: nil, position: nil))

            #expect(throws: (any Error).self, "a provider outside the enum is an error, not a guess") {
                try BotRecord.fetchAll(db, sql: "SELECT 'gemini' AS provider_kind, * FROM bots")
            }
        }
    }

    @Test func theGroupCommitterBatchesConcurrentWritesAndIsolatesFailures() async throws {
        let (database, folder) = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        let committer = GroupCommitter(writer: database.writer)
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    do {
                        try await committer.write { db in
                            // Every 50th write breaks a constraint: it alone must fail.
                            let type = index % 50 == 0 ? nil : "test.event"
                            try db.execute(
                                sql: "INSERT INTO audit_events (type, actor, data, created_at) VALUES (?, 'test', '{}', ?)",
                                arguments: [type, index])
                        }
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 196)
        #expect(results.filter { !$0 }.count == 4)
        let stored = try await database.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_events") }
        #expect(stored == 196, "every acknowledged write is on disk, no failed one is")
        #expect(await committer.largestBatch > 1, "concurrent writes shared a transaction")
    }

    /// A read gives its connection back as soon as its block returns, not when the awaiting task
    /// next runs: under load that task waits its turn for a thread, and the connection would wait
    /// with it. Here the task's executor is stalled while another read needs the pool's only
    /// connection, and that read still goes through.
    @Test func aReadReleasesItsConnectionBeforeItsTaskResumes() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = Configuration()
        configuration.maximumReaderCount = 1
        let pool = try DatabasePool(path: folder.appendingPathComponent("one-reader.sqlite").path, configuration: configuration)
        let executor = StallableExecutor()
        let first = Task(executorPreference: executor) {
            try await pool.readPromptly { db in
                executor.stall()
                return try Int.fetchOne(db, sql: "SELECT 1")
            }
        }
        await executor.untilStalled()
        let second = try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask { try await pool.readPromptly { db in try Int.fetchOne(db, sql: "SELECT 2") } }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                executor.resume()  // so the stuck read, and this group, can end
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        executor.resume()
        #expect(second == 2, "the second read waited for the first read's task to run again")
        #expect(try await first.value == 1)
    }

    /// Commits leave the log to the checkpointer: SQLite's own checkpoint waits for the backstop,
    /// and a passive checkpoint on the checkpointer's connection copies every page back while the
    /// pool stays open, after which the database file alone holds the rows.
    @Test func theCheckpointerCopiesTheLogBackWhileCommitsLeaveItAlone() async throws {
        let (database, folder) = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("parley.sqlite").path
        try await database.writer.write { db in
            #expect(try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") == ParleyDatabase.backstopCheckpointPages)
            for index in 0..<2_000 {
                try db.execute(
                    sql: "INSERT INTO audit_events (type, actor, data, created_at) VALUES ('test.event', 'test', ?, ?)",
                    arguments: [String(repeating: "x", count: 200), index])
            }
        }
        // The database file alone, without its log: what a checkpoint has copied so far.
        func rowsInTheFileAlone(_ name: String) async throws -> Int {
            let copy = folder.appendingPathComponent(name)
            try FileManager.default.copyItem(atPath: path, toPath: copy.path)
            // Before any checkpoint the file may not even hold the table yet.
            return try await DatabaseQueue(path: copy.path).read { db in try? Int.fetchOne(db, sql: "SELECT count(*) FROM audit_events") } ?? 0
        }
        #expect(try await rowsInTheFileAlone("before.sqlite") < 2_000, "the commit did not checkpoint its rows into the file")

        let checkpointer = try WALCheckpointer(path: path, logger: Logger(label: "test"))
        let first = try await checkpointer.checkpoint()
        #expect(first.logPages > 100, "the commit left its pages in the log")
        #expect(first.copiedPages == first.logPages, "nothing held them back: all copied")
        #expect(try await rowsInTheFileAlone("after.sqlite") == 2_000)
    }

    /// The checkpointer comes back soon while the log changes between rounds, and slowly once it
    /// stays put; the first write after a quiet spell makes it quick again.
    @Test func checkpointsComeQuicklyWhileTheLogChangesAndSlowlyOnceItStops() {
        let pace = CheckpointPace(busy: .milliseconds(100), idle: .milliseconds(500))
        #expect(pace.pause(afterLogPages: 0) == .milliseconds(100), "the first round knows nothing yet")
        #expect(pace.pause(afterLogPages: 40) == .milliseconds(100))
        #expect(pace.pause(afterLogPages: 90) == .milliseconds(100))
        #expect(pace.pause(afterLogPages: 90) == .milliseconds(500), "nothing written since the last round")
        #expect(pace.pause(afterLogPages: 90) == .milliseconds(500))
        // A writer restarts the log from its start once everything was copied: shorter, not longer.
        #expect(pace.pause(afterLogPages: 3) == .milliseconds(100))
    }

    /// A round that finds SQLite busy comes back at the busy pace, quietly, until so many in a
    /// row have been busy that the lock is being held for long: that one is reported. A round
    /// that gets through starts the count again.
    @Test func busyRoundsAreRetriedSoonAndOnlyALongRunOfThemIsReported() {
        let pace = CheckpointPace(busy: .milliseconds(100), idle: .milliseconds(500), toleratedBusyRounds: 3)
        #expect(pace.pauseAfterBusyRound() == .milliseconds(100))
        #expect(pace.pauseAfterBusyRound() == .milliseconds(100))
        #expect(pace.pauseAfterBusyRound() == nil, "the third busy round in a row is reported")
        #expect(pace.pauseAfterBusyRound() == .milliseconds(100), "and the count starts again")
        #expect(pace.pause(afterLogPages: 10) == .milliseconds(100))
        #expect(pace.pauseAfterBusyRound() == .milliseconds(100))
        #expect(pace.pauseAfterBusyRound() == .milliseconds(100), "a round that got through reset the count")
        #expect(pace.pauseAfterBusyRound() == nil)
    }

    /// While another connection holds the checkpoint lock (here a `FULL` checkpoint waiting for a
    /// reader of an older snapshot), a round cannot checkpoint: it asks to come back soon instead
    /// of failing, and only the `toleratedBusyRounds`-th busy round in a row throws. Once the
    /// lock is free, rounds checkpoint again.
    @Test func aCheckpointRoundWaitsOutAnotherConnectionsCheckpoint() async throws {
        let (database, folder) = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("parley.sqlite").path
        func insertEvents() async throws {
            try await database.writer.write { db in
                for index in 0..<200 {
                    try db.execute(
                        sql: "INSERT INTO audit_events (type, actor, data, created_at) VALUES ('test.event', 'test', 'x', ?)",
                        arguments: [index])
                }
            }
        }
        try await insertEvents()
        // A reader holds a snapshot, and the log grows past it.
        var holdsTransactions = Configuration()
        holdsTransactions.allowsUnsafeTransactions = true
        let reader = try DatabaseQueue(path: path, configuration: holdsTransactions)
        try await reader.writeWithoutTransaction { db in
            try db.beginTransaction(.deferred)
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_events")
        }
        try await insertEvents()
        // A FULL checkpoint takes the checkpoint lock, then waits for that reader. It does not wait
        // for the lock itself, so it tries again when it meets one of the passive checks below.
        @Sendable func isBusy(_ error: any Error) -> Bool { (error as? DatabaseError)?.resultCode == .SQLITE_BUSY }
        var busyWaiting = Configuration()
        busyWaiting.busyMode = .timeout(30)
        let other = try DatabaseQueue(path: path, configuration: busyWaiting)
        let otherCheckpoint = Task {
            while true {
                do {
                    return try await other.writeWithoutTransaction { db in try db.checkpoint(.full) }
                } catch let error where isBusy(error) {
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
        }

        let checkpointer = try WALCheckpointer(
            path: path, pace: CheckpointPace(busy: .milliseconds(100), idle: .milliseconds(500), toleratedBusyRounds: 2),
            logger: Logger(label: "test"))
        // Wait until the other checkpoint holds the lock.
        var lockTaken = false
        let deadline = ContinuousClock.now + .seconds(20)
        while !lockTaken, ContinuousClock.now < deadline {
            do {
                try await checkpointer.checkpoint()
                try await Task.sleep(for: .milliseconds(5))
            } catch let error where isBusy(error) {
                lockTaken = true
            }
        }
        try #require(lockTaken, "the other connection's checkpoint never took the lock")
        // A round that got through would also ask for 100 ms, but it would start the count of busy
        // rounds again, and the next busy round would not throw: the throw below is what shows
        // that this round met the lock and did not fail.
        #expect(try await checkpointer.round() == .milliseconds(100), "a busy round asks to come back at the busy pace")
        let reported = await #expect(throws: DatabaseError.self, "the second busy round in a row is reported") {
            try await checkpointer.round()
        }
        #expect(reported?.resultCode == .SQLITE_BUSY)

        try await reader.writeWithoutTransaction { db in try db.commit() }
        _ = try await otherCheckpoint.value
        await #expect(throws: Never.self, "the lock is free again") { try await checkpointer.round() }
        let afterwards = try await checkpointer.checkpoint()
        #expect(afterwards.copiedPages == afterwards.logPages)
    }

    /// A post is checked in the transaction that stores it, so nothing needs to be read first:
    /// another user's conversation, or one whose bot is gone, stores nothing; a repeated
    /// `client_message_id` fails on its unique index; a stored pair is answered by the
    /// conversation's own bot.
    @Test func startingAReplyChecksTheConversationAndItsBotInTheSameTransaction() async throws {
        let (database, folder) = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        let chat = SQLiteChatStore(writer: database.writer, committer: GroupCommitter(writer: database.writer), cache: ConfigurationRowCache())
        try await database.writer.write { db in try Self.insertConversation(db) }
        func draft(_ owner: ConversationOwner, clientMessageID: String? = nil) -> ReplyDraft {
            ReplyDraft(owner: owner, conversationID: "conv_1", content: "hello", clientMessageID: clientMessageID, createdAt: 5)
        }
        func storedMessages() async throws -> Int {
            try await database.writer.read { db in try MessageRecord.fetchCount(db) }
        }
        let owner = ConversationOwner(workspaceID: "ws_1", userID: "u-1", botID: "bot_1")
        for intruder in [
            ConversationOwner(workspaceID: "ws_1", userID: "u-2", botID: "bot_1"), ConversationOwner(workspaceID: "ws_2", userID: "u-1", botID: "bot_1"),
            ConversationOwner(workspaceID: "ws_1", userID: "u-1", botID: "bot_2"),
        ] {
            let refused = await #expect(throws: ParleyError.self) { try await chat.startReply(draft(intruder)) }
            #expect(refused?.code == "not_found")
            #expect(refused?.message == "No such conversation.")
        }
        #expect(try await storedMessages() == 0)

        let first = draft(owner, clientMessageID: "c-1")
        try await chat.startReply(first)
        let stored = try #require(try await chat.postTarget(conversationID: "conv_1", owner: owner, clientMessageID: "c-1")?.earlierReply)
        var (user, assistant) = (stored.user, stored.assistant)
        (user.seq, assistant.seq) = (nil, nil)
        #expect(ReplyPair(user: user, assistant: assistant) == first.pair(botID: "bot_1", model: "m-1"))
        await #expect(throws: DatabaseError.self, "a repeat fails on the unique index") {
            try await chat.startReply(draft(owner, clientMessageID: "c-1"))
        }

        try await database.writer.write { db in _ = try Self.bot.delete(db) }
        let orphaned = await #expect(throws: ParleyError.self) { try await chat.startReply(draft(owner)) }
        #expect(orphaned?.message == "The conversation's bot no longer exists.")
        #expect(try await storedMessages() == 2, "only the first pair")
    }

    /// One round saves the new text of every streaming reply in one transaction. A reply that has
    /// ended keeps its final text whatever a later round finds, and a forgotten one is not
    /// written again.
    @Test func theFlusherSavesEveryChangedReplyInOneCommitAndLeavesEndedOnesAlone() async throws {
        let (database, folder) = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        let commits = Mutex(0)
        let committer = GroupCommitter(writer: database.writer, onCommit: { _ in commits.withLock { $0 += 1 } })
        let chat = SQLiteChatStore(writer: database.writer, committer: committer, cache: ConfigurationRowCache())
        let flusher = ReplyTextFlusher(store: chat, clock: .system, interval: .seconds(3600), logger: Logger(label: "test"))
        try await database.writer.write { db in try Self.insertConversation(db) }
        var pairs: [ReplyPair] = []
        for name in ["a", "b", "c"] {
            let draft = ReplyDraft(
                owner: ConversationOwner(workspaceID: "ws_1", userID: "u-1", botID: "bot_1"), conversationID: "conv_1", content: "question \(name)",
                createdAt: 1)
            try await chat.startReply(draft)
            pairs.append(draft.pair(botID: "bot_1", model: "m-1"))
        }
        let ids = pairs.map(\.assistant.id)
        func savedTexts() async throws -> [String] {
            try await database.writer.read { db in
                try ids.map { try String.fetchOne(db, sql: "SELECT content FROM messages WHERE id = ?", arguments: [$0]) ?? "?" }
            }
        }
        let texts = pairs.map { pair in
            let text = ReplyText()
            flusher.track(text, messageID: pair.assistant.id)
            return text
        }
        _ = texts[0].append("Hello")
        _ = texts[1].append("Bonjour")
        commits.withLock { $0 = 0 }
        try await flusher.flushChanged()
        #expect(try await savedTexts() == ["Hello", "Bonjour", ""], "the unchanged reply is not written")
        #expect(commits.withLock { $0 } == 1, "one transaction for the round")

        var ended = pairs[0].assistant
        ended.content = "Hello there"
        ended.status = .complete
        ended.finishReason = "stop"
        ended.inputTokens = 1
        ended.outputTokens = 2
        try await chat.finishReply(ended)
        _ = texts[0].append(" and more")
        _ = texts[1].append(", monde")
        _ = texts[2].append("Hola")
        flusher.forget(messageID: pairs[2].assistant.id)
        try await flusher.flushChanged()
        #expect(try await savedTexts() == ["Hello there", "Bonjour, monde", ""])
    }
}

/// A task executor on a queue of its own, which a test can stall: while stalled, no task that
/// prefers it runs.
private final class StallableExecutor: TaskExecutor {
    private let queue = DispatchQueue(label: "stallable-executor")
    private let stalled = DispatchSemaphore(value: 0)
    private let resumed = DispatchSemaphore(value: 0)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// Parks the queue until `resume()`; what is enqueued meanwhile runs after.
    func stall() {
        queue.async {
            self.stalled.signal()
            self.resumed.wait()
        }
    }

    func untilStalled() async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                self.stalled.wait()
                continuation.resume()
            }
        }
    }

    func resume() {
        resumed.signal()
    }
}

