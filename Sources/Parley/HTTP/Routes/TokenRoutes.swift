import Foundation
import Hummingbird
import Logging

/// Token issuance and revocation for the customer's backend (DESIGN.md §3).
struct TokenRoutes {
    let services: ParleyServices

    func register(on group: RouterGroup<IssuerRequestContext>) {
        group.post("/api/v1/embed/generate-token", use: generateToken)
        group.post("/api/v1/embed/revoke-token", use: revokeToken)
        group.post("/v1/bots/{botId}/embed-token", use: botEmbedToken)
    }

    // MARK: POST /api/v1/embed/generate-token

    struct GenerateTokenBody: Decodable {
        struct UserContext: Decodable {
            var id: String
            var email: String?
            var name: String?
        }

        var workspaceId: String
        var userContext: UserContext
        var botId: String?
        var ttlSeconds: Int?
        var metadata: [String: JSONValue]?
    }

    /// The answer to a mint.
    struct GenerateTokenAnswer: Encodable {
        var embedToken: String
        var expiresAt: Date
        var botId: String
    }

    @Sendable func generateToken(_ request: Request, context: IssuerRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(GenerateTokenBody.self, from: request)
        let user = try EmbedTokenService.User(
            id: Validate.text(body.userContext.id, param: "userContext.id", maxLength: 256),
            email: Validate.optionalText(body.userContext.email, param: "userContext.email", maxLength: 320),
            name: Validate.optionalText(body.userContext.name, param: "userContext.name", maxLength: 256))
        let metadata = try Validate.metadata(body.metadata, param: "metadata")
        let workspace = try await services.workspace(body.workspaceId, visibleTo: context.credential)
        let bot = try await bot(body.botId, in: workspace)
        try services.checkMintRate(credential: context.credential, workspace: workspace)
        let issued = try await services.tokens.issue(
            workspace: workspace, bot: bot, user: user, ttl: body.ttlSeconds, ttlParam: "ttlSeconds",
            metadata: metadata, credential: context.credential)
        return try JSONBody.response(GenerateTokenAnswer(embedToken: issued.token, expiresAt: issued.expiresAt, botId: bot.id))
    }

    /// The named bot of the workspace, or its default.
    private func bot(_ id: String?, in workspace: WorkspaceRecord) async throws -> BotRecord {
        guard let botID = id ?? workspace.defaultBotId else {
            throw ParleyError.invalidRequest("The workspace has no bot yet; create one first.", param: "botId")
        }
        guard let bot = try await services.stores.bots.find(workspaceID: workspace.id, botID: botID) else {
            throw ParleyError.notFound("No such bot.")
        }
        return bot
    }

    // MARK: POST /v1/bots/{botId}/embed-token

    struct BotEmbedTokenBody: Decodable {
        var ttlSeconds: Int?
        var visitorID: String?
        var visitorEmail: String?
        var visitorName: String?
        var metadata: [String: JSONValue]?

        enum CodingKeys: String, CodingKey {
            case metadata
            case ttlSeconds = "ttl_seconds"
            case visitorID = "visitor_id"
            case visitorEmail = "visitor_email"
            case visitorName = "visitor_name"
        }
    }

    struct BotEmbedTokenAnswer: Encodable {
        struct Token: Encodable {
            var token: String
            var expiresAt: Date
            var ttlSeconds: Int

            enum CodingKeys: String, CodingKey {
                case token
                case expiresAt = "expires_at"
                case ttlSeconds = "ttl_seconds"
            }
        }

        var data: Token
    }

    @Sendable func botEmbedToken(_ request: Request, context: IssuerRequestContext) async throws -> Response {
        let botID = try context.parameters.require("botId")
        // The body is optional here: every field has a default.
        let body = try await JSONBody.decode(BotEmbedTokenBody.self, from: request, orIfAbsent: BotEmbedTokenBody())
        let user = try EmbedTokenService.User(
            id: Validate.optionalText(body.visitorID, param: "visitor_id", maxLength: 256) ?? RandomToken.id("anon_"),
            email: Validate.optionalText(body.visitorEmail, param: "visitor_email", maxLength: 320),
            name: Validate.optionalText(body.visitorName, param: "visitor_name", maxLength: 256))
        let metadata = try Validate.metadata(body.metadata, param: "metadata")
        guard let workspaceID = try await botWorkspace(botID, credential: context.credential),
            let workspace = try await services.stores.workspaces.find(workspaceID),
            let bot = try await services.stores.bots.find(workspaceID: workspaceID, botID: botID)
        else { throw ParleyError.notFound("No such bot.") }
        try services.checkMintRate(credential: context.credential, workspace: workspace)
        let issued = try await services.tokens.issue(
            workspace: workspace, bot: bot, user: user, ttl: body.ttlSeconds, ttlParam: "ttl_seconds",
            metadata: metadata, credential: context.credential)
        let ttl = Int(issued.claims.exp - issued.claims.iat)
        return try JSONBody.response(BotEmbedTokenAnswer(data: .init(token: issued.token, expiresAt: issued.expiresAt, ttlSeconds: ttl)))
    }

    /// The workspace of `botID` as far as `credential` may know: its own workspace for a
    /// workspace key (the bot must be in it), any for the operator.
    private func botWorkspace(_ botID: String, credential: APICredential) async throws -> String? {
        if let workspaceID = credential.workspaceID { return workspaceID }
        return try await services.stores.bots.workspaceID(ofBot: botID)
    }

    // MARK: POST /api/v1/embed/revoke-token

    struct RevokeBody: Decodable {
        var token: String?
        var jti: String?
        var workspaceId: String?
        var userId: String?
    }

    struct RevokeAnswer: Encodable {
        var revoked: Int
    }

    @Sendable func revokeToken(_ request: Request, context: IssuerRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(RevokeBody.self, from: request)
        let revocation = TokenRevocation(services: services, credential: context.credential)
        let count: Int
        switch (body.token, body.jti, body.workspaceId, body.userId) {
        case (let token?, nil, nil, nil):
            let session = try await services.tokens.verify(token, checkLifetime: false)
            _ = try await services.workspace(session.workspaceID, visibleTo: context.credential)
            count = try await revocation.revoke(jti: session.claims.jti, workspaceID: session.workspaceID)
        case (nil, let jti?, nil, nil):
            guard let record = try await services.stores.tokens.findToken(jti: jti),
                context.credential.canSee(workspaceID: record.workspaceId)
            else { throw ParleyError.notFound("No such token.") }
            count = try await revocation.revoke(jti: jti, workspaceID: record.workspaceId)
        case (nil, nil, let workspaceID?, let userID?):
            let workspace = try await services.workspace(workspaceID, visibleTo: context.credential)
            count = try await revocation.revoke(userID: userID, workspaceID: workspace.id)
        case (nil, nil, let workspaceID?, nil):
            let workspace = try await services.workspace(workspaceID, visibleTo: context.credential)
            count = try await revocation.revokeAll(workspaceID: workspace.id)
        default:
            throw ParleyError.invalidRequest(
                "Send exactly one of {token}, {jti}, {workspaceId, userId} or {workspaceId}.")
        }
        return try JSONBody.response(RevokeAnswer(revoked: count))
    }
}

/// Revocation with its audit line, shared by the issuance API and the admin API.
struct TokenRevocation {
    let services: ParleyServices
    let credential: APICredential

    func revoke(jti: String, workspaceID: String) async throws -> Int {
        try await services.stores.tokens.revoke(
            jti: jti, workspaceID: workspaceID, at: services.clock.nowMilliseconds,
            audit: audit(workspaceID: workspaceID, userID: nil, details: ["jti": .string(jti), "by": "jti"]))
    }

    func revoke(userID: String, workspaceID: String) async throws -> Int {
        try await services.stores.tokens.revokeUser(
            workspaceID: workspaceID, userID: userID, at: services.clock.nowMilliseconds,
            audit: audit(workspaceID: workspaceID, userID: userID, details: ["by": "user"]))
    }

    func revokeAll(workspaceID: String) async throws -> Int {
        try await services.stores.tokens.revokeWorkspace(
            workspaceID: workspaceID, at: services.clock.nowMilliseconds,
            audit: audit(workspaceID: workspaceID, userID: nil, details: ["by": "workspace"]))
    }

    private func audit(workspaceID: String, userID: String?, details: [String: JSONValue]) -> AuditEvent {
        AuditEvent(
            workspaceId: workspaceID, type: "token.revoked", actor: credential.id, userId: userID, data: details,
            createdAt: services.clock.nowMilliseconds)
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) {
        self = .string(value)
    }
}
