import Foundation
import GRDB

/// A row type: Codable, with snake_case columns for its camelCase properties.
public protocol StoredRecord: Codable, Sendable, FetchableRecord, PersistableRecord {}

extension StoredRecord {
    public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
    public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
}

// Rows as they are stored. Columns are snake_case; nested Codable values (arrays, settings,
// themes) are stored by GRDB as JSON text. Times are milliseconds since 1970 (UTC).

/// Per-workspace knobs. Absent keys take the defaults below, so adding a setting needs no
/// migration and old rows keep working.
public struct WorkspaceSettings: Codable, Sendable, Equatable {
    public var defaultTokenTTL: Int = 3600
    public var maxTokenTTL: Int = 86_400
    public var requireViewExpiry: Bool = false
    public var messagesPerMinute: Int = 20
    public var maxConcurrentReplies: Int = 20
    public var dailyOutputTokenBudget: Int?
    public var retentionDays: Int?
    /// Token bucket for `generate-token` and `embed-token`, per API key.
    public var tokenMintRatePerSecond: Double = 20
    public var tokenMintBurst: Int = 100

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case defaultTokenTTL = "default_token_ttl"
        case maxTokenTTL = "max_token_ttl"
        case requireViewExpiry = "require_view_expiry"
        case messagesPerMinute = "messages_per_minute"
        case maxConcurrentReplies = "max_concurrent_replies"
        case dailyOutputTokenBudget = "daily_output_token_budget"
        case retentionDays = "retention_days"
        case tokenMintRatePerSecond = "token_mint_rate_per_second"
        case tokenMintBurst = "token_mint_burst"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = WorkspaceSettings()
        defaultTokenTTL = try container.decodeIfPresent(Int.self, forKey: .defaultTokenTTL) ?? defaults.defaultTokenTTL
        maxTokenTTL = try container.decodeIfPresent(Int.self, forKey: .maxTokenTTL) ?? defaults.maxTokenTTL
        requireViewExpiry = try container.decodeIfPresent(Bool.self, forKey: .requireViewExpiry) ?? defaults.requireViewExpiry
        messagesPerMinute = try container.decodeIfPresent(Int.self, forKey: .messagesPerMinute) ?? defaults.messagesPerMinute
        maxConcurrentReplies = try container.decodeIfPresent(Int.self, forKey: .maxConcurrentReplies) ?? defaults.maxConcurrentReplies
        dailyOutputTokenBudget = try container.decodeIfPresent(Int.self, forKey: .dailyOutputTokenBudget)
        retentionDays = try container.decodeIfPresent(Int.self, forKey: .retentionDays)
        tokenMintRatePerSecond =
            try container.decodeIfPresent(Double.self, forKey: .tokenMintRatePerSecond) ?? defaults.tokenMintRatePerSecond
        tokenMintBurst = try container.decodeIfPresent(Int.self, forKey: .tokenMintBurst) ?? defaults.tokenMintBurst
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(defaultTokenTTL, forKey: .defaultTokenTTL)
        try container.encode(maxTokenTTL, forKey: .maxTokenTTL)
        try container.encode(requireViewExpiry, forKey: .requireViewExpiry)
        try container.encode(messagesPerMinute, forKey: .messagesPerMinute)
        try container.encode(maxConcurrentReplies, forKey: .maxConcurrentReplies)
        try container.encode(dailyOutputTokenBudget, forKey: .dailyOutputTokenBudget)
        try container.encode(retentionDays, forKey: .retentionDays)
        try container.encode(tokenMintRatePerSecond, forKey: .tokenMintRatePerSecond)
        try container.encode(tokenMintBurst, forKey: .tokenMintBurst)
    }
}

struct WorkspaceRecord: StoredRecord, Equatable {
    static let databaseTableName = "workspaces"

    var id: String
    var name: String
    var allowedOrigins: [String]
    var settings: WorkspaceSettings
    var defaultBotId: String?
    var viewSecretSealed: Data
    var createdAt: Int64
    var updatedAt: Int64
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

public enum ProviderKind: String, Codable, Sendable, CaseIterable {
    case openai
    case anthropic

    var defaultBaseURL: String {
        switch self {
        case .openai: "https://api.openai.com/v1"
        case .anthropic: "https://api.anthropic.com/v1"
        }
    }
}

public struct BotTheme: Codable, Sendable, Equatable {
    public var primaryColor: String?
    public var launcherIcon: String?
    public var position: String?

    enum CodingKeys: String, CodingKey {
        case primaryColor = "primary_color"
        case launcherIcon = "launcher_icon"
        case position
    }
}

struct BotRecord: StoredRecord, Equatable {
    static let databaseTableName = "bots"

    var id: String
    var workspaceId: String
    var name: String
    var providerKind: ProviderKind
    var baseUrl: String
    var apiKeySealed: Data?
    var apiKeyLast4: String?
    var model: String
    var systemPrompt: String
    var temperature: Double?
    var maxOutputTokens: Int
    var contextTokens: Int
    var greeting: String?
    var theme: BotTheme
    var createdAt: Int64
    var updatedAt: Int64
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

public enum APIKeyScope: String, Codable, Sendable, CaseIterable {
    /// May mint and revoke embed tokens.
    case tokens
    /// May do anything within its workspace.
    case admin
}

struct APIKeyRecord: StoredRecord, Equatable {
    static let databaseTableName = "api_keys"

    var id: String
    var workspaceId: String
    var name: String
    var scope: APIKeyScope
    var secretHash: Data
    var prefix: String
    var createdAt: Int64
    var lastUsedAt: Int64?
    var revokedAt: Int64?
}

struct AdminKeyRecord: StoredRecord, Equatable {
    static let databaseTableName = "admin_keys"

    var id: String
    var name: String
    var secretHash: Data
    var prefix: String
    var createdAt: Int64
    var revokedAt: Int64?
}

struct SigningKeyRecord: StoredRecord, Equatable {
    static let databaseTableName = "signing_keys"

    var kid: String
    var publicKey: Data
    var privateKeySealed: Data
    var createdAt: Int64
    var retiredAt: Int64?
}

struct EmbedTokenRecord: StoredRecord, Equatable {
    static let databaseTableName = "embed_tokens"

    var jti: String
    var workspaceId: String
    var userId: String
    var botId: String
    var kid: String
    var apiKeyId: String?
    var issuedAt: Int64
    var expiresAt: Int64
    var revokedAt: Int64?

    /// Written by hand: one row per token minted, and the `Codable` route (snake-casing every key
    /// on every insert) was a sixth of a mint's CPU.
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

/// One line of the audit log. `actor` is a credential id (`key_…`, `adm_…`, `env`), never a
/// secret; `data` holds the event's details.
public struct AuditEvent: StoredRecord, Equatable {
    public static let databaseTableName = "audit_events"

    public var seq: Int64?
    public var workspaceId: String?
    public var type: String
    public var actor: String
    public var userId: String?
    public var data: [String: JSONValue]
    public var createdAt: Int64

    public init(workspaceId: String?, type: String, actor: String, userId: String? = nil, data: [String: JSONValue] = [:], createdAt: Int64) {
        self.workspaceId = workspaceId
        self.type = type
        self.actor = actor
        self.userId = userId
        self.data = data
        self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }

    /// Written by hand, as `EmbedTokenRecord`'s is: every mint writes one.
    public func encode(to container: inout PersistenceContainer) throws {
        try encodeColumns(to: &container)
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
