import Foundation
import Hummingbird
import Logging

/// `/admin/v1/workspaces/{wid}/api-keys…`, `…/audit` and `…/tokens/revoke`: a workspace's
/// credentials and what was done with them.
struct AdminKeyRoutes {
    let services: ParleyServices

    func register(on group: RouterGroup<AdminRequestContext>) {
        group.get("/workspaces/{wid}/api-keys", use: listKeys)
        group.post("/workspaces/{wid}/api-keys", use: createKey)
        group.delete("/workspaces/{wid}/api-keys/{kid}", use: revokeKey)
        group.post("/workspaces/{wid}/tokens/revoke", use: revokeTokens)
        group.get("/workspaces/{wid}/audit", use: audit)
    }

    struct CreateKeyBody: Decodable {
        var name: String
        var scope: APIKeyScope
    }

    @Sendable func createKey(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let body = try await JSONBody.decode(CreateKeyBody.self, from: request)
        let secret = APIKeySecret.generate(.workspace)
        let now = services.clock.nowMilliseconds
        let record = APIKeyRecord(
            id: RandomToken.id("key_"), workspaceId: workspace.id,
            name: try Validate.text(body.name, param: "name", maxLength: 200), scope: body.scope,
            secretHash: secret.hash, prefix: secret.displayPrefix, createdAt: now, lastUsedAt: nil, revokedAt: nil)
        try await services.stores.credentials.createAPIKey(
            record,
            audit: AuditEvent(
                workspaceId: workspace.id, type: "api_key.created", actor: context.credential.id,
                data: ["api_key_id": .string(record.id), "scope": .string(body.scope.rawValue), "name": .string(record.name)],
                createdAt: now))
        return try JSONBody.response(APIKeyView(record, key: secret.value), status: .created)
    }

    @Sendable func listKeys(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let keys = try await services.stores.credentials.listAPIKeys(workspaceID: workspace.id)
        return try JSONBody.response(ListBody(data: keys.map { APIKeyView($0) }, nextCursor: nil))
    }

    @Sendable func revokeKey(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let keyID = try context.parameters.require("kid")
        let now = services.clock.nowMilliseconds
        let found = try await services.stores.credentials.revokeAPIKey(
            workspaceID: workspace.id, keyID: keyID, at: now,
            audit: AuditEvent(
                workspaceId: workspace.id, type: "api_key.revoked", actor: context.credential.id,
                data: ["api_key_id": .string(keyID)], createdAt: now))
        guard found else { throw ParleyError.notFound("No such API key.") }
        return Response(status: .noContent)
    }

    struct RevokeTokensBody: Decodable {
        var jti: String?
        var userID: String?

        enum CodingKeys: String, CodingKey {
            case jti
            case userID = "user_id"
        }
    }

    @Sendable func revokeTokens(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let body = try await JSONBody.decode(RevokeTokensBody.self, from: request)
        let revocation = TokenRevocation(services: services, credential: context.credential)
        let count: Int
        switch (body.jti, body.userID) {
        case (let jti?, nil):
            guard let record = try await services.stores.tokens.findToken(jti: jti), record.workspaceId == workspace.id else {
                throw ParleyError.notFound("No such token.")
            }
            count = try await revocation.revoke(jti: jti, workspaceID: workspace.id)
        case (nil, let userID?):
            count = try await revocation.revoke(userID: userID, workspaceID: workspace.id)
        default:
            throw ParleyError.invalidRequest("Send exactly one of jti or user_id.")
        }
        return try JSONBody.response(TokenRoutes.RevokeAnswer(revoked: count))
    }

    @Sendable func audit(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let query = request.uri.queryParameters
        let limit = try Validate.limit(query["limit"].map(String.init), fallback: 50)
        let since = try query["since"].map { try TimeQuery.milliseconds(String($0), param: "since") }
        let page = try await services.stores.audit.list(
            workspaceID: workspace.id, type: query["type"].map(String.init), since: since, limit: limit,
            cursor: query["cursor"].map(String.init))
        return try JSONBody.response(ListBody(data: page.items.map(AuditEventView.init), nextCursor: page.nextCursor))
    }
}

/// Time query parameters: RFC 3339 (`2026-01-02T03:04:05Z`) or Unix seconds.
enum TimeQuery {
    static func milliseconds(_ raw: String, param: String) throws -> Int64 {
        if let seconds = Int64(raw) { return seconds * 1000 }
        if let date = try? Date(raw, strategy: .iso8601) { return date.millisecondsSince1970 }
        throw ParleyError.invalidRequest("\(param) must be an RFC 3339 time or Unix seconds", param: param)
    }
}
