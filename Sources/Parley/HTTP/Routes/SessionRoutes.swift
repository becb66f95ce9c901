import Foundation
import Hummingbird
import Logging

/// `GET /v1/session`: who the embed token speaks for, so the widget can greet them.
struct SessionRoutes {
    let services: ParleyServices

    func register(on group: RouterGroup<EmbedRequestContext>) {
        group.get("/session", use: session)
    }

    struct SessionBody: Encodable {
        struct User: Encodable {
            var id: String
            var email: String?
            var name: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(id, forKey: .id)
                try container.encode(email, forKey: .email)
                try container.encode(name, forKey: .name)
            }

            enum CodingKeys: String, CodingKey { case id, email, name }
        }

        struct Workspace: Encodable {
            var id: String
            var name: String
        }

        struct Bot: Encodable {
            var id: String
            var name: String
            var greeting: String?
            var theme: BotTheme

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(id, forKey: .id)
                try container.encode(name, forKey: .name)
                try container.encode(greeting, forKey: .greeting)
                try container.encode(theme, forKey: .theme)
            }

            enum CodingKeys: String, CodingKey { case id, name, greeting, theme }
        }

        var user: User
        var workspace: Workspace
        var bot: Bot
        var expiresAt: Date

        enum CodingKeys: String, CodingKey {
            case user, workspace, bot
            case expiresAt = "expires_at"
        }
    }

    @Sendable func session(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        let session = context.session
        guard let bot = try await services.stores.bots.find(workspaceID: session.workspaceID, botID: session.botID) else {
            throw ParleyError.notFound("The token's bot no longer exists.")
        }
        let body = SessionBody(
            user: .init(id: session.userID, email: session.claims.email, name: session.claims.name),
            workspace: .init(id: session.workspace.id, name: session.workspace.name),
            bot: .init(id: bot.id, name: bot.name, greeting: bot.greeting, theme: bot.theme),
            expiresAt: session.expiresAt)
        return try JSONBody.response(body)
    }
}
