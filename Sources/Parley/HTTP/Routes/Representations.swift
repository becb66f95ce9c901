import Foundation

// The JSON shapes of DESIGN.md §7, built from stored records. Nothing secret has a field here:
// API key hashes, sealed provider keys and sealed view secrets stay in the records.

/// `{"data": […], "next_cursor": …}`.
struct ListBody<Item: Encodable>: Encodable {
    var data: [Item]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case data
        case nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

struct WorkspaceView: Encodable {
    var id: String
    var name: String
    var allowedOrigins: [String]
    var settings: WorkspaceSettings
    var defaultBotID: String?
    var createdAt: Date
    var updatedAt: Date

    init(_ record: WorkspaceRecord) {
        id = record.id
        name = record.name
        allowedOrigins = record.allowedOrigins
        settings = record.settings
        defaultBotID = record.defaultBotId
        createdAt = Date(milliseconds: record.createdAt)
        updatedAt = Date(milliseconds: record.updatedAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, settings
        case allowedOrigins = "allowed_origins"
        case defaultBotID = "default_bot_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(allowedOrigins, forKey: .allowedOrigins)
        try container.encode(settings, forKey: .settings)
        try container.encode(defaultBotID, forKey: .defaultBotID)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

struct APIKeyView: Encodable {
    var id: String
    var name: String
    var prefix: String
    var scope: APIKeyScope
    var createdAt: Date
    var lastUsedAt: Date?
    var revokedAt: Date?
    /// Only in the answer to the create call: the one time the key is shown.
    var key: String?

    init(_ record: APIKeyRecord, key: String? = nil) {
        id = record.id
        name = record.name
        prefix = record.prefix
        scope = record.scope
        createdAt = Date(milliseconds: record.createdAt)
        lastUsedAt = record.lastUsedAt.map(Date.init(milliseconds:))
        revokedAt = record.revokedAt.map(Date.init(milliseconds:))
        self.key = key
    }

    enum CodingKeys: String, CodingKey {
        case id, name, prefix, scope, key
        case createdAt = "created_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        if let key { try container.encode(key, forKey: .key) }
        try container.encode(name, forKey: .name)
        try container.encode(prefix, forKey: .prefix)
        try container.encode(scope, forKey: .scope)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastUsedAt, forKey: .lastUsedAt)
        try container.encode(revokedAt, forKey: .revokedAt)
    }
}

struct BotView: Encodable {
    struct Provider: Encodable {
        var kind: ProviderKind
        var baseURL: String
        var model: String
        var apiKeySet: Bool
        var apiKeyLast4: String?

        enum CodingKeys: String, CodingKey {
            case kind, model
            case baseURL = "base_url"
            case apiKeySet = "api_key_set"
            case apiKeyLast4 = "api_key_last4"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kind, forKey: .kind)
            try container.encode(baseURL, forKey: .baseURL)
            try container.encode(model, forKey: .model)
            try container.encode(apiKeySet, forKey: .apiKeySet)
            try container.encode(apiKeyLast4, forKey: .apiKeyLast4)
        }
    }

    var id: String
    var name: String
    var provider: Provider
    var systemPrompt: String
    var temperature: Double?
    var maxOutputTokens: Int
    var contextTokens: Int
    var greeting: String?
    var theme: BotTheme
    var isDefault: Bool
    var createdAt: Date
    var updatedAt: Date

    init(_ record: BotRecord, isDefault: Bool) {
        id = record.id
        name = record.name
        provider = Provider(
            kind: record.providerKind, baseURL: record.baseUrl, model: record.model,
            apiKeySet: record.apiKeySealed != nil, apiKeyLast4: record.apiKeyLast4)
        systemPrompt = record.systemPrompt
        temperature = record.temperature
        maxOutputTokens = record.maxOutputTokens
        contextTokens = record.contextTokens
        greeting = record.greeting
        theme = record.theme
        self.isDefault = isDefault
        createdAt = Date(milliseconds: record.createdAt)
        updatedAt = Date(milliseconds: record.updatedAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, provider, temperature, greeting, theme
        case systemPrompt = "system_prompt"
        case maxOutputTokens = "max_output_tokens"
        case contextTokens = "context_tokens"
        case isDefault = "is_default"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(provider, forKey: .provider)
        try container.encode(systemPrompt, forKey: .systemPrompt)
        try container.encode(temperature, forKey: .temperature)
        try container.encode(maxOutputTokens, forKey: .maxOutputTokens)
        try container.encode(contextTokens, forKey: .contextTokens)
        try container.encode(greeting, forKey: .greeting)
        try container.encode(theme, forKey: .theme)
        try container.encode(isDefault, forKey: .isDefault)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

struct AuditEventView: Encodable {
    var id: String
    var type: String
    var actor: String
    var userID: String?
    var data: [String: JSONValue]
    var createdAt: Date

    init(_ event: AuditEvent) {
        id = "evt_\(event.seq ?? 0)"
        type = event.type
        actor = event.actor
        userID = event.userId
        data = event.data
        createdAt = Date(milliseconds: event.createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, type, actor, data
        case userID = "user_id"
        case createdAt = "created_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(type, forKey: .type)
        try container.encode(actor, forKey: .actor)
        try container.encode(userID, forKey: .userID)
        try container.encode(data, forKey: .data)
        try container.encode(createdAt, forKey: .createdAt)
    }
}
