import Foundation

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

struct WorkspaceRecord: Codable, Sendable, Equatable {
    var id: String
    var name: String
    var allowedOrigins: [String]
    var settings: WorkspaceSettings
    var defaultBotId: String?
    var viewSecretSealed: Data
    var createdAt: Int64
    var updatedAt: Int64
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

struct BotRecord: Codable, Sendable, Equatable {
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

public enum APIKeyScope: String, Codable, Sendable, CaseIterable {
    /// May mint and revoke embed tokens.
    case tokens
    /// May do anything within its workspace.
    case admin
}

struct APIKeyRecord: Codable, Sendable, Equatable {
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

struct AdminKeyRecord: Codable, Sendable, Equatable {
    var id: String
    var name: String
    var secretHash: Data
    var prefix: String
    var createdAt: Int64
    var revokedAt: Int64?
}

struct SigningKeyRecord: Codable, Sendable, Equatable {
    var kid: String
    var publicKey: Data
    var privateKeySealed: Data
    var createdAt: Int64
    var retiredAt: Int64?
}

struct EmbedTokenRecord: Codable, Sendable, Equatable {
    var jti: String
    var workspaceId: String
    var userId: String
    var botId: String
    var kid: String
    var apiKeyId: String?
    var issuedAt: Int64
    var expiresAt: Int64
    var revokedAt: Int64?
}

/// One line of the audit log. `actor` is a credential id (`key_…`, `adm_…`, `env`), never a
/// secret; `data` holds the event's details.
public struct AuditEvent: Codable, Sendable, Equatable {
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
}

