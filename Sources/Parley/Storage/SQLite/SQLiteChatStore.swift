import Foundation
import GRDB

struct SQLiteChatStore: ChatStore {
    /// The statements of the most frequent reads, written once; each is prepared once per
    /// connection (`cachedStatement`).
    private enum SQL {
        static let ownedConversation = """
            SELECT * FROM conversations WHERE id = ? AND workspace_id = ? AND user_id = ? AND bot_id = ?
            """
        static let newestConversations = """
            SELECT * FROM conversations WHERE workspace_id = ? AND user_id = ? AND bot_id = ?
            ORDER BY updated_at DESC, seq DESC LIMIT ?
            """
        static let conversationsAfter = """
            SELECT * FROM conversations WHERE workspace_id = ? AND user_id = ? AND bot_id = ?
            AND (updated_at < ? OR (updated_at = ? AND seq < ?))
            ORDER BY updated_at DESC, seq DESC LIMIT ?
            """
        /// The id and model of the bot answering a conversation, if `owner` has it; `NULL`s once the bot is gone.
        static let conversationsBot = """
            SELECT bots.id, bots.model FROM conversations
            LEFT JOIN bots ON bots.id = conversations.bot_id AND bots.workspace_id = conversations.workspace_id
            WHERE conversations.id = ? AND conversations.workspace_id = ? AND conversations.user_id = ? AND conversations.bot_id = ?
            """
        static let isOwnedConversation = "SELECT 1 FROM conversations WHERE id = ? AND workspace_id = ? AND user_id = ? AND bot_id = ?"
        /// Where a page that ends before a given message starts.
        static let anchorSeq = "SELECT seq FROM messages WHERE conversation_id = ? AND id = ?"
        static let newestMessages = """
            SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?
            """
        static let messagesBefore = """
            SELECT * FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?
            """
        /// The newest finished messages with text: what a provider is sent as the conversation so far.
        static let replyHistory = """
            SELECT * FROM messages
            WHERE conversation_id = ? AND content != '' AND (status IS NULL OR status != 'streaming')
            ORDER BY seq DESC LIMIT ?
            """
        /// A post by its `client_message_id`, then the reply to it: the repeat check every post
        /// with an id makes (the widget always sends one).
        static let messageByClientID = """
            SELECT * FROM messages WHERE conversation_id = ? AND client_message_id = ?
            """
        static let replyToMessage = "SELECT * FROM messages WHERE reply_to = ?"
    }

    let writer: any DatabaseWriter
    /// The writes of every streaming reply (its user message, its text every second, its end) go
    /// through here: a thousand replies then cost a few transactions a second, not a thousand.
    let committer: GroupCommitter
    /// Emptied when a user is erased, since that deletes their issued tokens.
    let cache: ConfigurationRowCache

    private func owned(_ owner: ConversationOwner) -> QueryInterfaceRequest<ConversationRecord> {
        ConversationRecord.filter(
            Column("workspace_id") == owner.workspaceID && Column("user_id") == owner.userID && Column("bot_id") == owner.botID)
    }

    func createConversation(_ conversation: ConversationRecord) async throws -> ConversationRecord {
        try await writer.write { db in
            try conversation.inserted(db)
        }
    }

    func conversation(_ id: String, owner: ConversationOwner) async throws -> ConversationRecord? {
        try await writer.readPromptly { db in try Self.conversation(db, id: id, owner: owner) }
    }

    private static func conversation(_ db: Database, id: String, owner: ConversationOwner) throws -> ConversationRecord? {
        try ConversationRecord.fetchOne(db.cachedStatement(sql: SQL.ownedConversation), arguments: [id, owner.workspaceID, owner.userID, owner.botID])
    }

    func conversationInWorkspace(_ id: String, workspaceID: String) async throws -> ConversationRecord? {
        try await writer.readPromptly { db in
            try ConversationRecord.filter(Column("workspace_id") == workspaceID && Column("id") == id).fetchOne(db)
        }
    }

    func conversations(owner: ConversationOwner, limit: Int, cursor: String?) async throws -> Page<ConversationRecord> {
        let after = try cursor.map { try Cursor.decode($0, parts: 2) }
        let rows = try await writer.readPromptly { db in
            if let after, let updatedAt = Int64(after[0]), let seq = Int64(after[1]) {
                return try ConversationRecord.fetchAll(
                    db.cachedStatement(sql: SQL.conversationsAfter),
                    arguments: [owner.workspaceID, owner.userID, owner.botID, updatedAt, updatedAt, seq, limit + 1])
            }
            return try ConversationRecord.fetchAll(
                db.cachedStatement(sql: SQL.newestConversations),
                arguments: [owner.workspaceID, owner.userID, owner.botID, limit + 1])
        }
        return Page(rows: rows, limit: limit) { Cursor.encode([String($0.updatedAt), String($0.seq ?? 0)]) }
    }

    func renameConversation(_ id: String, owner: ConversationOwner, title: String, at time: Int64) async throws -> ConversationRecord? {
        try await writer.write { db in
            guard var conversation = try Self.conversation(db, id: id, owner: owner) else { return nil }
            conversation.title = title
            conversation.updatedAt = time
            try conversation.update(db)
            return conversation
        }
    }

    func deleteConversation(_ id: String, owner: ConversationOwner) async throws -> Bool {
        try await writer.write { db in
            try owned(owner).filter(Column("id") == id).deleteAll(db) > 0
        }
    }

    func messages(conversationID: String, limit: Int, before: String?) async throws -> (items: [MessageRecord], hasMore: Bool) {
        try await writer.readPromptly { db in try Self.messages(db, conversationID: conversationID, limit: limit, before: before) }
    }

    func messages(conversationID: String, owner: ConversationOwner, limit: Int, before: String?) async throws
        -> (items: [MessageRecord], hasMore: Bool)?
    {
        try await writer.readPromptly { db in
            guard try Int.fetchOne(db.cachedStatement(sql: SQL.isOwnedConversation), arguments: [conversationID, owner.workspaceID, owner.userID, owner.botID]) != nil
            else { return nil }
            return try Self.messages(db, conversationID: conversationID, limit: limit, before: before)
        }
    }

    /// The `seq` of the message a page ends before.
    private static func anchorSeq(_ db: Database, conversationID: String, before: String) throws -> Int64 {
        guard let seq = try Int64.fetchOne(db.cachedStatement(sql: SQL.anchorSeq), arguments: [conversationID, before]) else {
            throw ParleyError.invalidRequest("before must be a message of this conversation", param: "before")
        }
        return seq
    }

    /// Reads the newest `limit + 1` messages before the anchor by `seq`, so one extra row tells
    /// whether an older page exists.
    private static func messages(_ db: Database, conversationID: String, limit: Int, before: String?) throws
        -> (items: [MessageRecord], hasMore: Bool)
    {
        var newestFirst: [MessageRecord]
        if let before {
            let seq = try anchorSeq(db, conversationID: conversationID, before: before)
            newestFirst = try MessageRecord.fetchAll(
                db.cachedStatement(sql: SQL.messagesBefore),
                arguments: [conversationID, seq, limit + 1])
        } else {
            newestFirst = try MessageRecord.fetchAll(
                db.cachedStatement(sql: SQL.newestMessages),
                arguments: [conversationID, limit + 1])
        }
        // In place: copying the rows into a new array would retain and release every string.
        let hasMore = newestFirst.count > limit
        if hasMore { newestFirst.removeLast() }
        newestFirst.reverse()
        return (newestFirst, hasMore)
    }

    func postTarget(conversationID: String, owner: ConversationOwner, clientMessageID: String?) async throws -> PostTarget? {
        try await writer.readPromptly { db in
            guard let conversation = try Self.conversation(db, id: conversationID, owner: owner) else { return nil }
            return PostTarget(
                conversation: conversation,
                bot: try BotRecord.lookUp(db, workspaceID: owner.workspaceID, botID: conversation.botId),
                earlierReply: try clientMessageID.flatMap { try Self.reply(db, toClientMessageID: $0, conversationID: conversationID) })
        }
    }

    func replyHistory(conversationID: String, limit: Int) async throws -> [MessageRecord] {
        try await writer.readPromptly { db in
            try MessageRecord.fetchAll(db.cachedStatement(sql: SQL.replyHistory), arguments: [conversationID, limit]).reversed()
        }
    }

    func message(_ id: String, conversationID: String) async throws -> MessageRecord? {
        try await writer.readPromptly { db in
            try MessageRecord.filter(Column("conversation_id") == conversationID && Column("id") == id).fetchOne(db)
        }
    }

    func reply(toClientMessageID clientMessageID: String, conversationID: String) async throws -> ReplyPair? {
        try await writer.readPromptly { db in try Self.reply(db, toClientMessageID: clientMessageID, conversationID: conversationID) }
    }

    private static func reply(_ db: Database, toClientMessageID clientMessageID: String, conversationID: String) throws -> ReplyPair? {
        guard
            let user = try MessageRecord.fetchOne(
                db.cachedStatement(sql: SQL.messageByClientID), arguments: [conversationID, clientMessageID]),
            let assistant = try MessageRecord.fetchOne(db.cachedStatement(sql: SQL.replyToMessage), arguments: [user.id])
        else { return nil }
        return ReplyPair(user: user, assistant: assistant)
    }

    func startReply(_ draft: ReplyDraft) async throws {
        try await committer.write { db in
            guard
                let answerer = try Row.fetchOne(
                    db.cachedStatement(sql: SQL.conversationsBot),
                    arguments: [draft.conversationID, draft.owner.workspaceID, draft.owner.userID, draft.owner.botID])
            else { throw ParleyError.notFound("No such conversation.") }
            guard let botID = answerer[0] as String?, let model = answerer[1] as String? else {
                throw ParleyError.notFound("The conversation's bot no longer exists.")
            }
            let pair = draft.pair(botID: botID, model: model)
            let user = pair.user
            try user.insert(db)
            try pair.assistant.insert(db)
            try db.cachedStatement(
                sql: """
                    UPDATE conversations
                    SET title = coalesce(title, ?), last_message_preview = ?, updated_at = ?
                    WHERE id = ?
                    """
            ).execute(arguments: [Self.title(from: user.content), Self.preview(of: user.content), user.createdAt, user.conversationId])
        }
    }

    func flushReplies(_ texts: [(messageID: String, content: String)], at time: Int64) async throws {
        try await committer.write { db in
            let update = try db.cachedStatement(sql: "UPDATE messages SET content = ?, updated_at = ? WHERE id = ? AND status = 'streaming'")
            for text in texts {
                try update.execute(arguments: [text.content, time, text.messageID])
            }
        }
    }

    func finishReply(_ message: MessageRecord) async throws {
        try await committer.write { db in
            try db.cachedStatement(
                sql: """
                    UPDATE messages SET content = ?, status = ?, finish_reason = ?, error_code = ?, model = ?,
                        input_tokens = ?, output_tokens = ?, updated_at = ?, terminal_seq = ?
                    WHERE id = ?
                    """
            ).execute(arguments: [
                message.content, message.status?.rawValue, message.finishReason, message.errorCode, message.model,
                message.inputTokens, message.outputTokens, message.updatedAt, message.terminalSeq, message.id,
            ])
            if !message.content.isEmpty {
                try db.cachedStatement(sql: "UPDATE conversations SET last_message_preview = ?, updated_at = ? WHERE id = ?")
                    .execute(arguments: [Self.preview(of: message.content), message.updatedAt, message.conversationId])
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO usage_daily (workspace_id, day, bot_id, user_id, messages, input_tokens, output_tokens)
                    VALUES (?, ?, ?, ?, 1, ?, ?)
                    ON CONFLICT (workspace_id, day, bot_id, user_id) DO UPDATE SET
                        messages = messages + 1,
                        input_tokens = input_tokens + excluded.input_tokens,
                        output_tokens = output_tokens + excluded.output_tokens
                    """
            ).execute(arguments: [
                message.workspaceId, UsageDay.string(for: message.createdAt), message.botId, message.userId,
                message.inputTokens ?? 0, message.outputTokens ?? 0,
            ])
        }
    }

    func interruptAbandonedReplies(at time: Int64) async throws -> Int {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE messages SET status = 'interrupted', error_code = 'interrupted', updated_at = ?
                    WHERE status = 'streaming'
                    """,
                arguments: [time])
            return db.changesCount
        }
    }

    func outputTokens(workspaceID: String, day: String) async throws -> Int {
        try await writer.readPromptly { db in
            try Int.fetchOne(
                db, sql: "SELECT coalesce(sum(output_tokens), 0) FROM usage_daily WHERE workspace_id = ? AND day = ?",
                arguments: [workspaceID, day]) ?? 0
        }
    }

    func saveFeedback(_ feedback: FeedbackRecord) async throws {
        try await writer.write { db in
            try feedback.upsert(db)
        }
    }

    func workspaceConversations(workspaceID: String, userID: String?, updatedSince: Int64?, limit: Int, cursor: String?) async throws
        -> Page<ConversationRecord>
    {
        let after = try cursor.map { try Cursor.decode($0, parts: 2) }
        let rows = try await writer.readPromptly { db in
            var request = ConversationRecord.filter(Column("workspace_id") == workspaceID)
            if let userID { request = request.filter(Column("user_id") == userID) }
            if let updatedSince { request = request.filter(Column("updated_at") >= updatedSince) }
            if let after, let updatedAt = Int64(after[0]), let seq = Int64(after[1]) {
                request = request.filter(Column("updated_at") < updatedAt || (Column("updated_at") == updatedAt && Column("seq") < seq))
            }
            return try request.order(Column("updated_at").desc, Column("seq").desc).limit(limit + 1).fetchAll(db)
        }
        return Page(rows: rows, limit: limit) { Cursor.encode([String($0.updatedAt), String($0.seq ?? 0)]) }
    }

    func deleteConversation(_ id: String, workspaceID: String) async throws -> Bool {
        try await writer.write { db in
            try ConversationRecord.filter(Column("workspace_id") == workspaceID && Column("id") == id).deleteAll(db) > 0
        }
    }

    func eraseUser(workspaceID: String, userID: String, audit: AuditEvent) async throws -> (conversations: Int, tokens: Int) {
        try await cache.write(through: writer) { db in
            let conversations = try ConversationRecord.filter(Column("workspace_id") == workspaceID && Column("user_id") == userID).deleteAll(db)
            try db.execute(sql: "DELETE FROM feedback WHERE workspace_id = ? AND user_id = ?", arguments: [workspaceID, userID])
            try db.execute(sql: "DELETE FROM usage_daily WHERE workspace_id = ? AND user_id = ?", arguments: [workspaceID, userID])
            let tokens = try EmbedTokenRecord.filter(Column("workspace_id") == workspaceID && Column("user_id") == userID).deleteAll(db)
            var audit = audit
            audit.data["conversations"] = .number(Double(conversations))
            audit.data["tokens"] = .number(Double(tokens))
            try audit.insert(db)
            return (conversations, tokens)
        }
    }

    func deleteConversations(workspaceID: String, updatedBefore cutoff: Int64, limit: Int) async throws -> Int {
        try await writer.write { db in
            try db.execute(
                sql: """
                    DELETE FROM conversations WHERE seq IN (
                        SELECT seq FROM conversations WHERE workspace_id = ? AND updated_at < ? LIMIT ?)
                    """,
                arguments: [workspaceID, cutoff, limit])
            return db.changesCount
        }
    }

    func usage(workspaceID: String, from: String, to: String, groupBy column: String) async throws -> [UsageRow] {
        precondition(["day", "bot_id", "user_id"].contains(column))
        return try await writer.readPromptly { db in
            try UsageRow.fetchAll(
                db,
                sql: """
                    SELECT \(column) AS key, sum(messages) AS messages, sum(input_tokens) AS input_tokens,
                           sum(output_tokens) AS output_tokens
                    FROM usage_daily WHERE workspace_id = ? AND day >= ? AND day <= ?
                    GROUP BY \(column) ORDER BY \(column)
                    """,
                arguments: [workspaceID, from, to])
        }
    }

    /// The first user message, cut to 80 characters on a word boundary where one is near.
    static func title(from content: String) -> String {
        let flat = content.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        guard flat.count > 80 else { return flat }
        let cut = flat.prefix(80)
        if let space = cut.lastIndex(of: " "), cut.distance(from: cut.startIndex, to: space) > 50 {
            return String(cut[..<space]) + "…"
        }
        return String(cut.prefix(79)) + "…"
    }

    static func preview(of content: String) -> String {
        let flat = content.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.count > 120 ? String(flat.prefix(119)) + "…" : flat
    }
}

extension UsageRow: FetchableRecord {}
