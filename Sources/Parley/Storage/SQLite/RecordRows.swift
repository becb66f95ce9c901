import Foundation
import GRDB

// How the domain records are stored in SQLite: their tables, their GRDB conformances, and the
// positional reading and column-list writing of the busiest ones.

/// A row type: Codable, with snake_case columns for its camelCase properties.
public protocol StoredRecord: Codable, Sendable, FetchableRecord, PersistableRecord {}

extension StoredRecord {
    public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
    public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
}

/// Read by position, like the token row beside it: a chat request whose token has left the
/// cache reads both, and `Codable` decoding snake-cases every key of every row.
extension WorkspaceRecord: PositionallyDecodedRecord {
    static let columnNames = [
        "id", "name", "allowed_origins", "settings", "default_bot_id", "view_secret_sealed", "created_at", "updated_at",
    ]
    static let insertSQL = makeInsertSQL()
    private static let originsDecoder = databaseJSONDecoder(for: "allowed_origins")
    private static let originsEncoder = databaseJSONEncoder(for: "allowed_origins")
    private static let settingsDecoder = databaseJSONDecoder(for: "settings")
    private static let settingsEncoder = databaseJSONEncoder(for: "settings")

    init(row: Row) throws {
        try Self.checkShape(of: row)
        id = try row.decode(atIndex: 0)
        name = try row.decode(atIndex: 1)
        allowedOrigins = try Self.decodeJSON([String].self, row, atIndex: 2, with: Self.originsDecoder)
        settings = try Self.decodeJSON(WorkspaceSettings.self, row, atIndex: 3, with: Self.settingsDecoder)
        defaultBotId = try row.decode(atIndex: 4)
        viewSecretSealed = try row.decode(atIndex: 5)
        createdAt = try row.decode(atIndex: 6)
        updatedAt = try row.decode(atIndex: 7)
    }

    func columnValues() throws -> [(any DatabaseValueConvertible)?] {
        [
            id, name, try Self.encodeJSON(allowedOrigins, with: Self.originsEncoder), try Self.encodeJSON(settings, with: Self.settingsEncoder),
            defaultBotId, viewSecretSealed, createdAt, updatedAt,
        ]
    }

    func encode(to container: inout PersistenceContainer) throws {
        try encodeColumns(to: &container)
    }
}

/// Read by position: every reply reads its bot with the conversation.
extension BotRecord: PositionallyDecodedRecord {
    static let columnNames = [
        "id", "workspace_id", "name", "provider_kind", "base_url", "api_key_sealed", "api_key_last4", "model", "system_prompt",
        "temperature", "max_output_tokens", "context_tokens", "greeting", "theme", "created_at", "updated_at",
    ]
    static let insertSQL = makeInsertSQL()
    private static let themeDecoder = databaseJSONDecoder(for: "theme")
    private static let themeEncoder = databaseJSONEncoder(for: "theme")

    init(row: Row) throws {
        try Self.checkShape(of: row)
        id = try row.decode(atIndex: 0)
        workspaceId = try row.decode(atIndex: 1)
        name = try row.decode(atIndex: 2)
        providerKind = try Self.decodeRaw(ProviderKind.self, row, atIndex: 3)
        baseUrl = try row.decode(atIndex: 4)
        apiKeySealed = try row.decode(atIndex: 5)
        apiKeyLast4 = try row.decode(atIndex: 6)
        model = try row.decode(atIndex: 7)
        systemPrompt = try row.decode(atIndex: 8)
        temperature = try row.decode(atIndex: 9)
        maxOutputTokens = try row.decode(atIndex: 10)
        contextTokens = try row.decode(atIndex: 11)
        greeting = try row.decode(atIndex: 12)
        theme = try Self.decodeJSON(BotTheme.self, row, atIndex: 13, with: Self.themeDecoder)
        createdAt = try row.decode(atIndex: 14)
        updatedAt = try row.decode(atIndex: 15)
    }

    func columnValues() throws -> [(any DatabaseValueConvertible)?] {
        [
            id, workspaceId, name, providerKind.rawValue, baseUrl, apiKeySealed, apiKeyLast4, model, systemPrompt, temperature,
            maxOutputTokens, contextTokens, greeting, try Self.encodeJSON(theme, with: Self.themeEncoder), createdAt, updatedAt,
        ]
    }

    func encode(to container: inout PersistenceContainer) throws {
        try encodeColumns(to: &container)
    }
}

/// Read by position: a chat request reads its token's row whenever the cached one has lapsed.
extension EmbedTokenRecord: PositionallyDecodedRecord {
    static let columnNames = ["jti", "workspace_id", "user_id", "bot_id", "kid", "api_key_id", "issued_at", "expires_at", "revoked_at"]
    static let insertSQL = makeInsertSQL()

    init(row: Row) throws {
        try Self.checkShape(of: row)
        jti = try row.decode(atIndex: 0)
        workspaceId = try row.decode(atIndex: 1)
        userId = try row.decode(atIndex: 2)
        botId = try row.decode(atIndex: 3)
        kid = try row.decode(atIndex: 4)
        apiKeyId = try row.decode(atIndex: 5)
        issuedAt = try row.decode(atIndex: 6)
        expiresAt = try row.decode(atIndex: 7)
        revokedAt = try row.decode(atIndex: 8)
    }

    func columnValues() -> [(any DatabaseValueConvertible)?] {
        [jti, workspaceId, userId, botId, kid, apiKeyId, issuedAt, expiresAt, revokedAt]
    }
}

extension AuditEvent: ColumnListRecord {
    static let columnNames = ["seq", "workspace_id", "type", "actor", "user_id", "data", "created_at"]
    static let insertSQL = makeInsertSQL()

    /// `data` is stored as JSON text with sorted keys, as GRDB's `Codable` route stores it, but
    /// written by hand (`JSONValue.encodedText`), and with slashes left as they are.
    func columnValues() throws -> [(any DatabaseValueConvertible)?] {
        [seq, workspaceId, type, actor, userId, JSONValue.object(data).encodedText, createdAt]
    }
}

extension ConversationRecord: PositionallyDecodedRecord {
    static let columnNames = [
        "seq", "id", "workspace_id", "user_id", "bot_id", "title", "last_message_preview", "created_at", "updated_at",
    ]
    static let insertSQL = makeInsertSQL()

    /// Read by position (see `PositionallyDecodedRecord`): conversation lists read twenty of
    /// these a request.
    init(row: Row) throws {
        try Self.checkShape(of: row)
        seq = try row.decode(atIndex: 0)
        id = try row.decode(atIndex: 1)
        workspaceId = try row.decode(atIndex: 2)
        userId = try row.decode(atIndex: 3)
        botId = try row.decode(atIndex: 4)
        title = try row.decode(atIndex: 5)
        lastMessagePreview = try row.decode(atIndex: 6)
        createdAt = try row.decode(atIndex: 7)
        updatedAt = try row.decode(atIndex: 8)
    }

    func columnValues() -> [(any DatabaseValueConvertible)?] {
        [seq, id, workspaceId, userId, botId, title, lastMessagePreview, createdAt, updatedAt]
    }

    /// Written from the column list, as `EmbedTokenRecord`'s is: the `Codable` route snake-cases
    /// every key on every write.
    func encode(to container: inout PersistenceContainer) throws {
        try encodeColumns(to: &container)
    }
}

extension MessageRecord: PositionallyDecodedRecord {
    static let columnNames = [
        "seq", "id", "conversation_id", "workspace_id", "user_id", "bot_id", "role", "content", "status", "finish_reason",
        "error_code", "model", "input_tokens", "output_tokens", "client_message_id", "created_at", "updated_at", "reply_to",
        "terminal_seq",
    ]
    static let insertSQL = makeInsertSQL()

    /// Read by position (see `PositionallyDecodedRecord`): a page of history is fifty of these
    /// and a reply's context up to two hundred.
    init(row: Row) throws {
        try Self.checkShape(of: row)
        seq = try row.decode(atIndex: 0)
        id = try row.decode(atIndex: 1)
        conversationId = try row.decode(atIndex: 2)
        workspaceId = try row.decode(atIndex: 3)
        userId = try row.decode(atIndex: 4)
        botId = try row.decode(atIndex: 5)
        role = try Self.decodeRaw(MessageRole.self, row, atIndex: 6)
        content = try row.decode(atIndex: 7)
        status = try row.hasNull(atIndex: 8) ? nil : Self.decodeRaw(ReplyStatus.self, row, atIndex: 8)
        finishReason = try row.decode(atIndex: 9)
        errorCode = try row.decode(atIndex: 10)
        model = try row.decode(atIndex: 11)
        inputTokens = try row.decode(atIndex: 12)
        outputTokens = try row.decode(atIndex: 13)
        clientMessageId = try row.decode(atIndex: 14)
        createdAt = try row.decode(atIndex: 15)
        updatedAt = try row.decode(atIndex: 16)
        replyTo = try row.decode(atIndex: 17)
        terminalSeq = try row.decode(atIndex: 18)
    }

    func columnValues() -> [(any DatabaseValueConvertible)?] {
        [
            seq, id, conversationId, workspaceId, userId, botId, role.rawValue, content, status?.rawValue, finishReason, errorCode,
            model, inputTokens, outputTokens, clientMessageId, createdAt, updatedAt, replyTo, terminalSeq,
        ]
    }

    /// Written from the column list: every message posted inserts two of these (the user's and
    /// the reply's).
    func encode(to container: inout PersistenceContainer) throws {
        try encodeColumns(to: &container)
    }
}

extension WorkspaceRecord: StoredRecord {
    static let databaseTableName = "workspaces"
}

extension BotRecord: StoredRecord {
    static let databaseTableName = "bots"
}

extension APIKeyRecord: StoredRecord {
    static let databaseTableName = "api_keys"
}

extension AdminKeyRecord: StoredRecord {
    static let databaseTableName = "admin_keys"
}

extension SigningKeyRecord: StoredRecord {
    static let databaseTableName = "signing_keys"
}

extension EmbedTokenRecord: StoredRecord {
    /// Written from the column list: one row per token minted, and the `Codable` route
    /// snake-cases every key on every insert.
    func encode(to container: inout PersistenceContainer) throws {
        try encodeColumns(to: &container)
    }

    static let databaseTableName = "embed_tokens"
}

extension AuditEvent: StoredRecord {
    /// Written from the column list, as `EmbedTokenRecord`'s is: every mint writes one.
    public func encode(to container: inout PersistenceContainer) throws {
        try encodeColumns(to: &container)
    }

    public static let databaseTableName = "audit_events"

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}

extension ConversationRecord: StoredRecord {
    static let databaseTableName = "conversations"

    mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}

extension MessageRecord: StoredRecord {
    static let databaseTableName = "messages"

    mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}

extension FeedbackRecord: StoredRecord {
    static let databaseTableName = "feedback"
}

extension MessageRole: DatabaseValueConvertible {}
extension ReplyStatus: DatabaseValueConvertible {}
