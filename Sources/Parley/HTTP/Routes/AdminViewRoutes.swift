import Foundation
import Hummingbird

/// `/admin/v1/workspaces/{wid}/view-secret` and `…/conversations/{cid}/view-link`: the secret
/// behind read-only links, and ready-made links.
struct AdminViewRoutes {
    let services: ParleyServices

    func register(on group: RouterGroup<AdminRequestContext>) {
        group.get("/workspaces/{wid}/view-secret", use: readSecret)
        group.post("/workspaces/{wid}/view-secret/rotate", use: rotateSecret)
        group.post("/workspaces/{wid}/conversations/{cid}/view-link", use: viewLink)
    }

    struct SecretBody: Encodable {
        var viewSecret: String

        enum CodingKeys: String, CodingKey {
            case viewSecret = "view_secret"
        }
    }

    @Sendable func readSecret(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        return try JSONBody.response(SecretBody(viewSecret: try services.viewSecret(of: workspace)))
    }

    /// A new secret: every link signed with the old one stops working.
    @Sendable func rotateSecret(_ request: Request, context: AdminRequestContext) async throws -> Response {
        var workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let secret = ParleyServices.newViewSecret()
        workspace.viewSecretSealed = try services.sealViewSecret(secret, workspaceID: workspace.id)
        workspace.updatedAt = services.clock.nowMilliseconds
        try await services.stores.workspaces.update(
            workspace,
            audit: AuditEvent(workspaceId: workspace.id, type: "view_secret.rotated", actor: context.credential.id, createdAt: workspace.updatedAt))
        return try JSONBody.response(SecretBody(viewSecret: secret))
    }

    struct LinkRequest: Decodable {
        var viewAs: String?
        var ttlSeconds: Int?

        enum CodingKeys: String, CodingKey {
            case viewAs = "view_as"
            case ttlSeconds = "ttl_seconds"
        }
    }

    struct LinkBody: Encodable {
        var url: String
        var validUntil: Date?

        enum CodingKeys: String, CodingKey {
            case url
            case validUntil = "valid_until"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(url, forKey: .url)
            try container.encode(validUntil, forKey: .validUntil)
        }
    }

    @Sendable func viewLink(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let conversationID = try context.parameters.require("cid")
        guard try await services.chat.conversationInWorkspace(conversationID, workspaceID: workspace.id) != nil else {
            throw ParleyError.notFound("No such conversation.")
        }
        let body = try await JSONBody.decode(LinkRequest.self, from: request)
        let viewAs = try Validate.optionalText(body.viewAs, param: "view_as", maxLength: 256)
        var validUntil: Int64?
        if let ttl = body.ttlSeconds {
            validUntil = services.clock.nowMilliseconds + Int64(try Validate.integer(ttl, param: "ttl_seconds", in: 60...31_536_000)) * 1000
        } else if workspace.settings.requireViewExpiry {
            throw ParleyError.invalidRequest("This workspace requires links to expire: give ttl_seconds.", param: "ttl_seconds")
        }
        let signature = ViewSignature.sign(secret: try services.viewSecret(of: workspace), conversationID: conversationID, validUntil: validUntil)
        var components = URLComponents(url: services.config.publicURL, resolvingAgainstBaseURL: false) ?? URLComponents()
        components.path = "/view/\(workspace.id)/\(conversationID)"
        components.queryItems = [URLQueryItem(name: "auth_token", value: signature)]
            + (viewAs.map { [URLQueryItem(name: "view_as", value: $0)] } ?? [])
            + (validUntil.map { [URLQueryItem(name: "valid_until", value: String($0))] } ?? [])
        return try JSONBody.response(LinkBody(url: components.string ?? "", validUntil: validUntil.map(Date.init(milliseconds:))))
    }
}
