import Foundation
import GRDB

struct SQLiteWorkspaceStore: WorkspaceStore {
    let writer: any DatabaseWriter
    let cache: ConfigurationRowCache

    func create(_ workspace: WorkspaceRecord, audit: AuditEvent) async throws {
        try await cache.write(through: writer) { db in
            guard try WorkspaceRecord.exists(db, key: workspace.id) == false else {
                throw ParleyError.conflict("A workspace with id \(workspace.id) already exists.")
            }
            try workspace.insert(db)
            try audit.insert(db)
        }
    }

    func find(_ id: String) async throws -> WorkspaceRecord? {
        try await cache.workspace(id) {
            try await writer.readPromptly { db in try WorkspaceRecord.lookUp(db, id: id) }
        }
    }

    func list(ids: Set<String>?, limit: Int, cursor: String?) async throws -> Page<WorkspaceRecord> {
        let after = try cursor.map { try Cursor.decode($0, parts: 2) }
        let rows = try await writer.readPromptly { db in
            var request = WorkspaceRecord.all()
            if let ids { request = request.filter(ids.contains(Column("id"))) }
            if let after, let createdAt = Int64(after[0]) {
                request = request.filter(
                    Column("created_at") < createdAt || (Column("created_at") == createdAt && Column("id") < after[1]))
            }
            return try request.order(Column("created_at").desc, Column("id").desc).limit(limit + 1).fetchAll(db)
        }
        return Page(rows: rows, limit: limit) { Cursor.encode([String($0.createdAt), $0.id]) }
    }

    func update(_ workspace: WorkspaceRecord, audit: AuditEvent) async throws {
        try await cache.write(through: writer) { db in
            try workspace.update(db)
            try audit.insert(db)
        }
    }

    func delete(_ id: String, audit: AuditEvent) async throws -> Bool {
        try await cache.write(through: writer) { db in
            let deleted = try WorkspaceRecord.deleteOne(db, key: id)
            if deleted { try audit.insert(db) }
            return deleted
        }
    }
}

struct SQLiteBotStore: BotStore {
    let writer: any DatabaseWriter
    let cache: ConfigurationRowCache

    func create(_ bot: BotRecord, audit: AuditEvent) async throws {
        try await cache.write(through: writer) { db in
            try bot.insert(db)
            try db.execute(
                sql: "UPDATE workspaces SET default_bot_id = ?, updated_at = ? WHERE id = ? AND default_bot_id IS NULL",
                arguments: [bot.id, bot.createdAt, bot.workspaceId])
            try audit.insert(db)
        }
    }

    func find(workspaceID: String, botID: String) async throws -> BotRecord? {
        try await cache.bot(.init(workspaceID: workspaceID, botID: botID)) {
            try await writer.readPromptly { db in try BotRecord.lookUp(db, workspaceID: workspaceID, botID: botID) }
        }
    }

    func list(workspaceID: String) async throws -> [BotRecord] {
        try await writer.readPromptly { db in
            try BotRecord.filter(Column("workspace_id") == workspaceID).order(Column("created_at"), Column("id")).fetchAll(db)
        }
    }

    func workspaceID(ofBot botID: String) async throws -> String? {
        try await writer.readPromptly { db in try String.fetchOne(db, sql: "SELECT workspace_id FROM bots WHERE id = ?", arguments: [botID]) }
    }

    func update(_ bot: BotRecord, makeDefault: Bool, audit: AuditEvent) async throws {
        try await cache.write(through: writer) { db in
            try bot.update(db)
            if makeDefault {
                try db.execute(
                    sql: "UPDATE workspaces SET default_bot_id = ?, updated_at = ? WHERE id = ?",
                    arguments: [bot.id, bot.updatedAt, bot.workspaceId])
            }
            try audit.insert(db)
        }
    }

    func delete(workspaceID: String, botID: String, audit: AuditEvent) async throws -> Bool {
        try await cache.write(through: writer) { db in
            let deleted = try BotRecord.filter(Column("workspace_id") == workspaceID && Column("id") == botID).deleteAll(db) > 0
            guard deleted else { return false }
            try db.execute(
                sql: """
                    UPDATE workspaces
                    SET default_bot_id = (SELECT id FROM bots WHERE workspace_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 1)
                    WHERE id = ?1 AND default_bot_id = ?2
                    """,
                arguments: [workspaceID, botID])
            try audit.insert(db)
            return true
        }
    }
}

struct SQLiteCredentialStore: CredentialStore {
    let writer: any DatabaseWriter
    /// Workspace keys are read from it on every mint; revoking or marking one used empties it.
    let cache: ConfigurationRowCache

    func createAPIKey(_ key: APIKeyRecord, audit: AuditEvent) async throws {
        try await writer.write { db in
            try key.insert(db)
            try audit.insert(db)
        }
    }

    func listAPIKeys(workspaceID: String) async throws -> [APIKeyRecord] {
        try await writer.readPromptly { db in
            try APIKeyRecord.filter(Column("workspace_id") == workspaceID)
                .order(Column("created_at").desc, Column("id").desc).fetchAll(db)
        }
    }

    func revokeAPIKey(workspaceID: String, keyID: String, at time: Int64, audit: AuditEvent) async throws -> Bool {
        try await cache.write(through: writer) { db in
            guard let key = try APIKeyRecord.filter(Column("workspace_id") == workspaceID && Column("id") == keyID).fetchOne(db)
            else { return false }
            if key.revokedAt == nil {
                try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ?", arguments: [time, keyID])
                try audit.insert(db)
            }
            return true
        }
    }

    func findAPIKey(secretHash: Data) async throws -> APIKeyRecord? {
        try await cache.apiKey(secretHash: secretHash) {
            try await writer.readPromptly { db in try APIKeyRecord.filter(Column("secret_hash") == secretHash).fetchOne(db) }
        }
    }

    func markUsed(apiKeyID: String, at time: Int64) async throws {
        try await cache.write(through: writer) { db in
            try db.execute(sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?", arguments: [time, apiKeyID])
        }
    }

    func createAdminKey(_ key: AdminKeyRecord, audit: AuditEvent) async throws {
        try await writer.write { db in
            try key.insert(db)
            try audit.insert(db)
        }
    }

    func findAdminKey(secretHash: Data) async throws -> AdminKeyRecord? {
        try await writer.readPromptly { db in try AdminKeyRecord.filter(Column("secret_hash") == secretHash).fetchOne(db) }
    }
}

struct SQLiteSigningKeyStore: SigningKeyStore {
    let writer: any DatabaseWriter

    func allSigningKeys() async throws -> [SigningKeyRecord] {
        try await writer.readPromptly { db in
            try SigningKeyRecord.order(Column("created_at").desc, Column("kid").desc).fetchAll(db)
        }
    }

    func rotate(to key: SigningKeyRecord, audit: AuditEvent) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL", arguments: [key.createdAt])
            try key.insert(db)
            try audit.insert(db)
        }
    }

    func publishableSigningKeys(now: Int64) async throws -> [SigningKeyRecord] {
        try await writer.readPromptly { db in
            try SigningKeyRecord.fetchAll(
                db,
                sql: """
                    SELECT * FROM signing_keys AS k
                    WHERE k.retired_at IS NULL
                       OR EXISTS (SELECT 1 FROM embed_tokens AS t WHERE t.kid = k.kid AND t.expires_at > ?)
                    ORDER BY k.created_at DESC, k.kid DESC
                    """,
                arguments: [now])
        }
    }
}

struct SQLiteEmbedTokenStore: EmbedTokenStore {
    let writer: any DatabaseWriter
    let committer: GroupCommitter
    let cache: ConfigurationRowCache

    func recordIssued(_ token: EmbedTokenRecord, audit: AuditEvent) async throws {
        try await committer.write { db in
            try token.insert(db)
            try audit.insert(db)
        }
    }

    func findToken(jti: String) async throws -> EmbedTokenRecord? {
        try await cache.token(jti: jti) {
            try await writer.readPromptly { db in try EmbedTokenRecord.lookUp(db, jti: jti) }
        }
    }

    func findToken(jti: String, withWorkspace workspaceID: String) async throws -> (EmbedTokenRecord?, WorkspaceRecord?) {
        try await cache.token(jti: jti, workspaceID: workspaceID) {
            try await writer.readPromptly { db in
                (try EmbedTokenRecord.lookUp(db, jti: jti), try WorkspaceRecord.lookUp(db, id: workspaceID))
            }
        }
    }

    func revoke(jti: String, workspaceID: String, at time: Int64, audit: AuditEvent) async throws -> Int {
        try await revokeWhere("jti = ? AND workspace_id = ?", [jti, workspaceID], at: time, audit: audit)
    }

    func revokeUser(workspaceID: String, userID: String, at time: Int64, audit: AuditEvent) async throws -> Int {
        try await revokeWhere("workspace_id = ? AND user_id = ?", [workspaceID, userID], at: time, audit: audit)
    }

    func revokeWorkspace(workspaceID: String, at time: Int64, audit: AuditEvent) async throws -> Int {
        try await revokeWhere("workspace_id = ?", [workspaceID], at: time, audit: audit)
    }

    /// Waits for issues already in flight (so "every token issued so far" includes them), then
    /// revokes the matching live tokens and records the count in the audit line.
    private func revokeWhere(_ condition: String, _ values: [String], at time: Int64, audit: AuditEvent) async throws -> Int {
        try await committer.write { _ in }
        return try await cache.write(through: writer) { db in
            var arguments = StatementArguments([time])
            arguments += StatementArguments(values)
            arguments += [time]
            try db.execute(
                sql: "UPDATE embed_tokens SET revoked_at = ? WHERE \(condition) AND revoked_at IS NULL AND expires_at > ?",
                arguments: arguments)
            let count = db.changesCount
            var audit = audit
            audit.data["revoked"] = .number(Double(count))
            try audit.insert(db)
            return count
        }
    }
}

struct SQLiteAuditStore: AuditStore {
    let writer: any DatabaseWriter

    func record(_ event: AuditEvent) async throws {
        try await writer.write { db in try event.insert(db) }
    }

    func list(workspaceID: String, type: String?, since: Int64?, limit: Int, cursor: String?) async throws -> Page<AuditEvent> {
        let before = try cursor.map(Cursor.decodeInteger)
        let rows = try await writer.readPromptly { db in
            var request = AuditEvent.filter(Column("workspace_id") == workspaceID)
            if let type { request = request.filter(Column("type") == type) }
            if let since { request = request.filter(Column("created_at") >= since) }
            if let before { request = request.filter(Column("seq") < before) }
            return try request.order(Column("seq").desc).limit(limit + 1).fetchAll(db)
        }
        return Page(rows: rows, limit: limit) { String($0.seq ?? 0).cursorEncoded }
    }
}

extension String {
    fileprivate var cursorEncoded: String { Cursor.encode([self]) }
}

extension Page {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says another page exists.
    init(rows: [Item], limit: Int, cursorOf: (Item) -> String) {
        let items = Array(rows.prefix(limit))
        self.items = items
        self.nextCursor = rows.count > limit ? items.last.map(cursorOf) : nil
    }
}

// The lookups of the rows every chat request needs once their cached copies have lapsed: fixed
// SQL in cached statements, so no SQL is generated per request (as in `SQLiteChatStore.SQL`).

extension EmbedTokenRecord {
    private static let byJTI = "SELECT * FROM embed_tokens WHERE jti = ?"

    static func lookUp(_ db: Database, jti: String) throws -> EmbedTokenRecord? {
        try fetchOne(db.cachedStatement(sql: byJTI), arguments: [jti])
    }
}

extension WorkspaceRecord {
    private static let byID = "SELECT * FROM workspaces WHERE id = ?"

    static func lookUp(_ db: Database, id: String) throws -> WorkspaceRecord? {
        try fetchOne(db.cachedStatement(sql: byID), arguments: [id])
    }
}

extension BotRecord {
    private static let byWorkspaceAndID = "SELECT * FROM bots WHERE workspace_id = ? AND id = ?"

    /// The bot, if it belongs to the workspace.
    static func lookUp(_ db: Database, workspaceID: String, botID: String) throws -> BotRecord? {
        try fetchOne(db.cachedStatement(sql: byWorkspaceAndID), arguments: [workspaceID, botID])
    }
}

extension Stores {
    /// The SQLite implementation of every store over one database, sharing one group committer
    /// (issued tokens and chat messages commit in the same transactions) and one row cache (which
    /// the chat store's user erasure empties).
    static func sqlite(_ database: ParleyDatabase, committer: GroupCommitter? = nil, cache: ConfigurationRowCache = ConfigurationRowCache())
        -> Stores
    {
        let writer = database.writer
        let committer = committer ?? GroupCommitter(writer: writer)
        return Stores(
            workspaces: SQLiteWorkspaceStore(writer: writer, cache: cache),
            bots: SQLiteBotStore(writer: writer, cache: cache),
            credentials: SQLiteCredentialStore(writer: writer, cache: cache),
            signingKeys: SQLiteSigningKeyStore(writer: writer),
            tokens: SQLiteEmbedTokenStore(writer: writer, committer: committer, cache: cache),
            audit: SQLiteAuditStore(writer: writer),
            chat: SQLiteChatStore(writer: writer, committer: committer, cache: cache)
        )
    }
}
