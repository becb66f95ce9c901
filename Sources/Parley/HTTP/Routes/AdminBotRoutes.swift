import Foundation
import Hummingbird
import Logging

/// `/admin/v1/workspaces/{wid}/bots…`: the assistants of a workspace and their providers.
///
/// `provider.api_key` is write-only: it is sealed under `master.key` as it arrives, and reads
/// show only `api_key_set` and its last four characters.
struct AdminBotRoutes {
    let services: ParleyServices

    func register(on group: RouterGroup<AdminRequestContext>) {
        group.get("/workspaces/{wid}/bots", use: list)
        group.post("/workspaces/{wid}/bots", use: create)
        group.get("/workspaces/{wid}/bots/{bid}", use: read)
        group.patch("/workspaces/{wid}/bots/{bid}", use: update)
        group.delete("/workspaces/{wid}/bots/{bid}", use: delete)
    }

    struct CreateBody: Decodable {
        struct Provider: Decodable {
            var kind: ProviderKind
            var baseURL: String?
            var apiKey: String?
            var model: String

            enum CodingKeys: String, CodingKey {
                case kind, model
                case baseURL = "base_url"
                case apiKey = "api_key"
            }
        }

        var name: String
        var provider: Provider
        var systemPrompt: String?
        var temperature: Double?
        var maxOutputTokens: Int?
        var contextTokens: Int?
        var greeting: String?
        var theme: BotTheme?
        var isDefault: Bool?

        enum CodingKeys: String, CodingKey {
            case name, provider, temperature, greeting, theme
            case systemPrompt = "system_prompt"
            case maxOutputTokens = "max_output_tokens"
            case contextTokens = "context_tokens"
            case isDefault = "is_default"
        }
    }

    @Sendable func create(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let body = try await JSONBody.decode(CreateBody.self, from: request)
        let now = services.clock.nowMilliseconds
        let id = RandomToken.id("bot_")
        var bot = BotRecord(
            id: id, workspaceId: workspace.id,
            name: try Validate.text(body.name, param: "name", maxLength: 200),
            providerKind: body.provider.kind,
            baseUrl: try ProviderURL.validate(body.provider.baseURL ?? body.provider.kind.defaultBaseURL, param: "provider.base_url"),
            apiKeySealed: nil, apiKeyLast4: nil,
            model: try Validate.text(body.provider.model, param: "provider.model", maxLength: 200),
            systemPrompt: try Validate.optionalText(body.systemPrompt, param: "system_prompt", maxLength: 32_768, allowNewlines: true) ?? "",
            temperature: try body.temperature.map { try Validate.number($0, param: "temperature", in: 0...2) },
            maxOutputTokens: try Validate.integer(body.maxOutputTokens ?? 1024, param: "max_output_tokens", in: 1...200_000),
            contextTokens: try Validate.integer(body.contextTokens ?? 8192, param: "context_tokens", in: 256...2_000_000),
            greeting: try Validate.optionalText(body.greeting, param: "greeting", maxLength: 2000, allowNewlines: true),
            theme: try Self.validated(body.theme ?? BotTheme()),
            createdAt: now, updatedAt: now)
        if let key = body.provider.apiKey { try seal(key, into: &bot) }
        try await checkReachable(bot.baseUrl)
        let audit = AuditEvent(
            workspaceId: workspace.id, type: "bot.created", actor: context.credential.id, data: ["bot_id": .string(id)], createdAt: now)
        try await services.stores.bots.create(bot, audit: audit)
        if body.isDefault == true, workspace.defaultBotId != nil {
            try await services.stores.bots.update(bot, makeDefault: true, audit: audit.with(type: "bot.made_default"))
        }
        let isDefault = try await services.stores.workspaces.find(workspace.id)?.defaultBotId == id
        return try JSONBody.response(BotView(bot, isDefault: isDefault), status: .created)
    }

    @Sendable func list(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let bots = try await services.stores.bots.list(workspaceID: workspace.id)
        return try JSONBody.response(ListBody(data: bots.map { BotView($0, isDefault: $0.id == workspace.defaultBotId) }, nextCursor: nil))
    }

    @Sendable func read(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let (workspace, bot) = try await resolve(context)
        return try JSONBody.response(BotView(bot, isDefault: bot.id == workspace.defaultBotId))
    }

    struct UpdateBody: Decodable {
        struct Provider: Decodable {
            var kind: ProviderKind?
            var baseURL: String?
            var apiKey: PatchField<String>
            var model: String?

            enum CodingKeys: String, CodingKey {
                case kind, model
                case baseURL = "base_url"
                case apiKey = "api_key"
            }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                kind = try container.decodeIfPresent(ProviderKind.self, forKey: .kind)
                baseURL = try container.decodeIfPresent(String.self, forKey: .baseURL)
                apiKey = try container.decodePatch(String.self, forKey: .apiKey)
                model = try container.decodeIfPresent(String.self, forKey: .model)
            }
        }

        var name: String?
        var provider: Provider?
        var systemPrompt: String?
        var temperature: PatchField<Double>
        var maxOutputTokens: Int?
        var contextTokens: Int?
        var greeting: PatchField<String>
        var theme: BotTheme?
        var isDefault: Bool?

        typealias CodingKeys = CreateBody.CodingKeys

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decodeIfPresent(String.self, forKey: .name)
            provider = try container.decodeIfPresent(Provider.self, forKey: .provider)
            systemPrompt = try container.decodeIfPresent(String.self, forKey: .systemPrompt)
            temperature = try container.decodePatch(Double.self, forKey: .temperature)
            maxOutputTokens = try container.decodeIfPresent(Int.self, forKey: .maxOutputTokens)
            contextTokens = try container.decodeIfPresent(Int.self, forKey: .contextTokens)
            greeting = try container.decodePatch(String.self, forKey: .greeting)
            theme = try container.decodeIfPresent(BotTheme.self, forKey: .theme)
            isDefault = try container.decodeIfPresent(Bool.self, forKey: .isDefault)
        }
    }

    @Sendable func update(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let (workspace, current) = try await resolve(context)
        let body = try await JSONBody.decode(UpdateBody.self, from: request)
        var bot = current
        if let name = body.name { bot.name = try Validate.text(name, param: "name", maxLength: 200) }
        if let provider = body.provider {
            if let kind = provider.kind { bot.providerKind = kind }
            if let baseURL = provider.baseURL {
                bot.baseUrl = try ProviderURL.validate(baseURL, param: "provider.base_url")
                try await checkReachable(bot.baseUrl)
            }
            if let model = provider.model { bot.model = try Validate.text(model, param: "provider.model", maxLength: 200) }
            switch provider.apiKey {
            case .absent: break
            case .null: (bot.apiKeySealed, bot.apiKeyLast4) = (nil, nil)
            case .value(let key): try seal(key, into: &bot)
            }
        }
        if let prompt = body.systemPrompt {
            bot.systemPrompt = prompt.isEmpty ? "" : try Validate.text(prompt, param: "system_prompt", maxLength: 32_768, allowNewlines: true)
        }
        bot.temperature = try body.temperature.applied(to: bot.temperature).map { try Validate.number($0, param: "temperature", in: 0...2) }
        if let value = body.maxOutputTokens {
            bot.maxOutputTokens = try Validate.integer(value, param: "max_output_tokens", in: 1...200_000)
        }
        if let value = body.contextTokens { bot.contextTokens = try Validate.integer(value, param: "context_tokens", in: 256...2_000_000) }
        bot.greeting = try Validate.optionalText(
            body.greeting.applied(to: bot.greeting), param: "greeting", maxLength: 2000, allowNewlines: true)
        if let theme = body.theme { bot.theme = try Self.validated(theme) }
        bot.updatedAt = services.clock.nowMilliseconds
        let makeDefault = body.isDefault == true
        try await services.stores.bots.update(
            bot, makeDefault: makeDefault,
            audit: AuditEvent(
                workspaceId: workspace.id, type: "bot.updated", actor: context.credential.id, data: ["bot_id": .string(bot.id)],
                createdAt: bot.updatedAt))
        return try JSONBody.response(BotView(bot, isDefault: makeDefault || bot.id == workspace.defaultBotId))
    }

    @Sendable func delete(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let (workspace, bot) = try await resolve(context)
        _ = try await services.stores.bots.delete(
            workspaceID: workspace.id, botID: bot.id,
            audit: AuditEvent(
                workspaceId: workspace.id, type: "bot.deleted", actor: context.credential.id, data: ["bot_id": .string(bot.id)],
                createdAt: services.clock.nowMilliseconds))
        return Response(status: .noContent)
    }

    private func resolve(_ context: AdminRequestContext) async throws -> (WorkspaceRecord, BotRecord) {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        guard let bot = try await services.stores.bots.find(workspaceID: workspace.id, botID: try context.parameters.require("bid")) else {
            throw ParleyError.notFound("No such bot.")
        }
        return (workspace, bot)
    }

    /// Refuses a base URL that resolves into the server's own network (unless private upstreams
    /// are allowed). A host that does not resolve now is accepted; it is checked again at
    /// request time.
    private func checkReachable(_ baseURL: String) async throws {
        if case .forbidden(let reason) = await services.upstreamGuard.check(baseURL) {
            throw ParleyError.invalidRequest(reason, param: "provider.base_url")
        }
    }

    private func seal(_ key: String, into bot: inout BotRecord) throws {
        let key = try Validate.text(key, param: "provider.api_key", maxLength: 4096)
        bot.apiKeySealed = try services.secretBox.seal(Data(key.utf8), label: ParleyServices.providerKeyLabel(bot.id))
        // Showing the tail of a short key would show most of it.
        bot.apiKeyLast4 = key.count >= 16 ? String(key.suffix(4)) : nil
    }

    private static func validated(_ theme: BotTheme) throws -> BotTheme {
        BotTheme(
            primaryColor: try Validate.color(theme.primaryColor, param: "theme.primary_color"),
            launcherIcon: try Validate.optionalText(theme.launcherIcon, param: "theme.launcher_icon", maxLength: 2048),
            position: try Validate.oneOf(theme.position, ["bottom-right", "bottom-left"], param: "theme.position"))
    }
}

extension AuditEvent {
    func with(type: String) -> AuditEvent {
        var copy = self
        copy.type = type
        return copy
    }
}

/// Provider base URLs: absolute `http(s)` API roots with a host and nothing that could smuggle
/// credentials or change the request (user info, query, fragment). Stored without a trailing `/`.
enum ProviderURL {
    static func validate(_ raw: String, param: String) throws -> String {
        guard raw.utf8.count <= 2048, let url = URL(string: raw), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty,
            url.user == nil, url.password == nil, url.query == nil, url.fragment == nil
        else {
            throw ParleyError.invalidRequest("\(param) must be an http(s) URL such as https://api.openai.com/v1", param: param)
        }
        return raw.hasSuffix("/") ? String(raw.dropLast()) : raw
    }
}
