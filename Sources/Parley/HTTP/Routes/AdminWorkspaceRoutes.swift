import Foundation
import Hummingbird
import Logging

/// `/admin/v1/workspaces…`: tenants, their settings and allowed origins.
///
/// Creating and deleting workspaces is the operator's alone; an `admin`-scoped workspace key
/// may list, read and change its own workspace.
struct AdminWorkspaceRoutes {
    let services: ParleyServices

    func register(on group: RouterGroup<AdminRequestContext>) {
        group.get("/workspaces", use: list)
        group.post("/workspaces", use: create)
        group.get("/workspaces/{wid}", use: read)
        group.patch("/workspaces/{wid}", use: update)
        group.delete("/workspaces/{wid}", use: delete)
    }

    struct CreateBody: Decodable {
        var id: String?
        var name: String
        var allowedOrigins: [String]?
        var settings: [String: JSONValue]?

        enum CodingKeys: String, CodingKey {
            case id, name, settings
            case allowedOrigins = "allowed_origins"
        }
    }

    @Sendable func create(_ request: Request, context: AdminRequestContext) async throws -> Response {
        guard context.credential.isOperator else { throw ParleyError.forbidden("Only the operator's admin key can create workspaces.") }
        let body = try await JSONBody.decode(CreateBody.self, from: request)
        let id = try body.id.map { try Validate.workspaceID($0, param: "id") } ?? RandomToken.id("ws_")
        let now = services.clock.nowMilliseconds
        let record = WorkspaceRecord(
            id: id,
            name: try Validate.text(body.name, param: "name", maxLength: 200),
            allowedOrigins: try Validate.allowedOrigins(body.allowedOrigins ?? [], param: "allowed_origins"),
            settings: try SettingsValidation.merged(WorkspaceSettings(), with: body.settings ?? [:]),
            defaultBotId: nil,
            viewSecretSealed: try services.sealViewSecret(ParleyServices.newViewSecret(), workspaceID: id),
            createdAt: now,
            updatedAt: now)
        try await services.stores.workspaces.create(
            record, audit: AuditEvent(workspaceId: id, type: "workspace.created", actor: context.credential.id, createdAt: now))
        context.logger.info("workspace created", metadata: ["parley.workspace_id": "\(id)"])
        return try JSONBody.response(WorkspaceView(record), status: .created)
    }

    @Sendable func list(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let limit = try Validate.limit(request.uri.queryParameters["limit"].map(String.init))
        let cursor = request.uri.queryParameters["cursor"].map(String.init)
        let visible: Set<String>? = context.credential.workspaceID.map { [$0] }
        let page = try await services.stores.workspaces.list(ids: visible, limit: limit, cursor: cursor)
        return try JSONBody.response(ListBody(data: page.items.map(WorkspaceView.init), nextCursor: page.nextCursor))
    }

    @Sendable func read(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        return try JSONBody.response(WorkspaceView(workspace))
    }

    struct UpdateBody: Decodable {
        var name: String?
        var allowedOrigins: [String]?
        var settings: [String: JSONValue]?

        enum CodingKeys: String, CodingKey {
            case name, settings
            case allowedOrigins = "allowed_origins"
        }
    }

    @Sendable func update(_ request: Request, context: AdminRequestContext) async throws -> Response {
        var workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let body = try await JSONBody.decode(UpdateBody.self, from: request)
        if let name = body.name { workspace.name = try Validate.text(name, param: "name", maxLength: 200) }
        if let origins = body.allowedOrigins {
            workspace.allowedOrigins = try Validate.allowedOrigins(origins, param: "allowed_origins")
        }
        if let settings = body.settings {
            workspace.settings = try SettingsValidation.merged(workspace.settings, with: settings)
        }
        workspace.updatedAt = services.clock.nowMilliseconds
        try await services.stores.workspaces.update(
            workspace,
            audit: AuditEvent(
                workspaceId: workspace.id, type: "workspace.updated", actor: context.credential.id,
                data: ["fields": .array(body.changedFields.map(JSONValue.string))], createdAt: workspace.updatedAt))
        return try JSONBody.response(WorkspaceView(workspace))
    }

    @Sendable func delete(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let id = try context.parameters.require("wid")
        guard context.credential.isOperator else {
            _ = try await services.workspace(id, visibleTo: context.credential)
            throw ParleyError.forbidden("Only the operator's admin key can delete workspaces.")
        }
        let deleted = try await services.stores.workspaces.delete(
            id,
            audit: AuditEvent(workspaceId: id, type: "workspace.deleted", actor: context.credential.id, createdAt: services.clock.nowMilliseconds))
        guard deleted else { throw ParleyError.workspaceNotFound }
        context.logger.notice("workspace deleted", metadata: ["parley.workspace_id": "\(id)"])
        return Response(status: .noContent)
    }
}

extension AdminWorkspaceRoutes.UpdateBody {
    var changedFields: [String] {
        [name.map { _ in "name" }, allowedOrigins.map { _ in "allowed_origins" }, settings.map { _ in "settings" }].compactMap { $0 }
    }
}

/// Settings arrive as a partial JSON object: the keys given replace the current values, `null`
/// clears a nullable one, and the result is checked as a whole.
enum SettingsValidation {
    static func merged(_ current: WorkspaceSettings, with changes: [String: JSONValue]) throws -> WorkspaceSettings {
        let known = Set(WorkspaceSettings.CodingKeys.allCases.map(\.stringValue))
        if let unknown = changes.keys.sorted().first(where: { !known.contains($0) }) {
            throw ParleyError.invalidRequest("settings.\(unknown) is not a setting", param: "settings.\(unknown)")
        }
        let currentData = try JSONBody.encoder.encode(current)
        var object = try JSONBody.decoder.decode([String: JSONValue].self, from: currentData)
        for (key, value) in changes { object[key] = value }
        let settings: WorkspaceSettings
        do {
            settings = try JSONBody.decoder.decode(WorkspaceSettings.self, from: JSONBody.encoder.encode(object))
        } catch let error as DecodingError {
            let mapped = JSONBody.map(error)
            throw ParleyError.invalidRequest("settings.\(mapped.message)", param: mapped.param.map { "settings.\($0)" })
        }
        try validate(settings)
        return settings
    }

    static func validate(_ settings: WorkspaceSettings) throws {
        _ = try Validate.integer(settings.maxTokenTTL, param: "settings.max_token_ttl", in: 60...2_592_000)
        _ = try Validate.integer(settings.defaultTokenTTL, param: "settings.default_token_ttl", in: 60...settings.maxTokenTTL)
        _ = try Validate.integer(settings.messagesPerMinute, param: "settings.messages_per_minute", in: 1...100_000)
        _ = try Validate.integer(settings.maxConcurrentReplies, param: "settings.max_concurrent_replies", in: 1...100_000)
        if let budget = settings.dailyOutputTokenBudget {
            _ = try Validate.integer(budget, param: "settings.daily_output_token_budget", in: 0...Int(Int32.max))
        }
        if let days = settings.retentionDays {
            _ = try Validate.integer(days, param: "settings.retention_days", in: 1...36_500)
        }
        _ = try Validate.number(settings.tokenMintRatePerSecond, param: "settings.token_mint_rate_per_second", in: 0.01...1_000_000)
        _ = try Validate.integer(settings.tokenMintBurst, param: "settings.token_mint_burst", in: 1...1_000_000)
    }
}
