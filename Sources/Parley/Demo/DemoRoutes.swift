import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// What `parley demo` adds to a normal server: a demo workspace and bot, the offline model, a
/// host page (`Public/demo/`) that loads the real `widget.js`, and a token URL standing in for
/// the customer's backend. Never registered by `parley serve`.
struct DemoRoutes {
    static let workspaceID = "demo"

    let services: ParleyServices

    func register(on router: Router<ParleyRequestContext>) {
        DemoModel(wordDelay: .milliseconds(35)).register(on: router)
        router.get("/demo") { _, _ in Self.file("demo/index.html", type: "text/html; charset=utf-8") }
        router.get("/demo/demo.js") { _, _ in Self.file("demo/demo.js", type: "text/javascript; charset=utf-8") }
        router.get("/demo/demo.css") { _, _ in Self.file("demo/demo.css", type: "text/css; charset=utf-8") }
        router.post("/demo/token", use: token)
        router.get("/demo/iframe", use: iframeHost)
        router.get("/demo/view", use: viewLatest)
    }

    private func visitorUser(_ request: Request) throws -> String {
        let visitor = request.uri.queryParameters["visitor"].map(String.init) ?? RandomToken.base62(12)
        return try Validate.text("demo-" + visitor.prefix(64), param: "visitor", maxLength: 80)
    }

    private func demoWorkspaceAndBot() async throws -> (WorkspaceRecord, BotRecord) {
        guard let workspace = try await services.stores.workspaces.find(Self.workspaceID),
            let botID = workspace.defaultBotId,
            let bot = try await services.stores.bots.find(workspaceID: workspace.id, botID: botID)
        else { throw ParleyError.notFound("The demo workspace is missing.") }
        return (workspace, bot)
    }

    private func mint(for userID: String) async throws -> EmbedTokenService.Issued {
        let (workspace, bot) = try await demoWorkspaceAndBot()
        return try await services.tokens.issue(
            workspace: workspace, bot: bot, user: .init(id: userID, email: nil, name: "Demo visitor"), ttl: nil, ttlParam: "ttl",
            metadata: nil, credential: APICredential(id: "demo", authority: .operatorKey))
    }

    /// A host page that frames `/embedded-chat`, as a customer's page would, with a token its
    /// backend minted while rendering.
    @Sendable func iframeHost(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let issued = try await mint(for: try visitorUser(request))
        let visitor = HTMLPage.escape(request.uri.queryParameters["visitor"].map(String.init) ?? "")
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Parley demo — iframe</title><link rel="stylesheet" href="/demo/demo.css"></head>
            <body><header class="site"><strong>Acme Analytics</strong><nav><a href="/demo">Back to the widget</a>
            <a href="/demo/view?visitor=\(visitor)">Read-only view of this chat</a></nav></header>
            <main><h1>The chat as an iframe</h1>
            <p>This frame is <code>/embedded-chat?token=…</code>; the token left its address bar as soon as it loaded.</p>
            <iframe class="chat" title="Chat" src="/embedded-chat?token=\(HTMLPage.escape(issued.token))"></iframe></main></body></html>
            """
        var response = Self.file("demo/index.html", type: "text/html; charset=utf-8")
        response.body = .init(byteBuffer: ByteBuffer(string: html))
        response.headers[.contentSecurityPolicy] =
            "default-src 'none'; style-src 'self'; frame-src 'self'; base-uri 'none'; frame-ancestors 'none'"
        return response
    }

    /// Redirects to a signed, one-hour read-only link to the visitor's latest conversation.
    @Sendable func viewLatest(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let (workspace, bot) = try await demoWorkspaceAndBot()
        let owner = ConversationOwner(workspaceID: workspace.id, userID: try visitorUser(request), botID: bot.id)
        guard let conversation = try await services.chat.conversations(owner: owner, limit: 1, cursor: nil).items.first else {
            return try HTMLPage.notice("Nothing to show yet", "Chat with the demo first, then come back.", status: .notFound)
        }
        let validUntil = services.clock.nowMilliseconds + 3_600_000
        let signature = ViewSignature.sign(
            secret: try services.viewSecret(of: workspace), conversationID: conversation.id, validUntil: validUntil)
        let location = "/view/\(workspace.id)/\(conversation.id)?auth_token=\(signature)&view_as=\(owner.userID)&valid_until=\(validUntil)"
        return Response(status: .seeOther, headers: [.location: location])
    }

    /// A file of `Public/demo/` under a CSP as strict as a careful customer's: scripts and styles
    /// from this origin only, nothing inline.
    static func file(_ path: String, type: String) -> Response {
        let text = EmbeddedPublicFiles.all[path] ?? ""
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    struct TokenAnswer: Encodable {
        var token: String
        var expiresAt: Date

        enum CodingKeys: String, CodingKey {
            case token
            case expiresAt = "expires_at"
        }
    }

    /// What a customer's backend does for its page: mint a token for the signed-in user (here,
    /// a visitor id the page keeps in local storage).
    @Sendable func token(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let issued = try await mint(for: try visitorUser(request))
        return try JSONBody.response(TokenAnswer(token: issued.token, expiresAt: issued.expiresAt))
    }

    /// Creates the demo workspace and its bot on first run; later runs keep them (and their
    /// conversations) and point the bot at this run's address.
    static func seed(_ services: ParleyServices) async throws {
        let now = services.clock.nowMilliseconds
        let origin = services.config.publicOrigin
        let audit = AuditEvent(workspaceId: workspaceID, type: "demo.seeded", actor: "demo", createdAt: now)
        var workspace = try await services.stores.workspaces.find(workspaceID)
        if workspace == nil {
            // Generous limits, so a load script can open many streams against the demo.
            var settings = WorkspaceSettings()
            settings.maxConcurrentReplies = 10_000
            settings.messagesPerMinute = 600
            settings.tokenMintBurst = 10_000
            let record = WorkspaceRecord(
                id: workspaceID, name: "Parley demo", allowedOrigins: [origin], settings: settings, defaultBotId: nil,
                viewSecretSealed: try services.sealViewSecret(ParleyServices.newViewSecret(), workspaceID: workspaceID),
                createdAt: now, updatedAt: now)
            try await services.stores.workspaces.create(record, audit: audit)
            workspace = record
        }
        let baseURL = services.config.publicURL.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/demo/v1"
        let bots = try await services.stores.bots.list(workspaceID: workspaceID)
        if var bot = bots.first {
            bot.baseUrl = baseURL
            bot.updatedAt = now
            try await services.stores.bots.update(bot, makeDefault: false, audit: audit.with(type: "demo.bot_updated"))
        } else {
            let bot = BotRecord(
                id: RandomToken.id("bot_"), workspaceId: workspaceID, name: "Parley demo assistant", providerKind: .openai,
                baseUrl: baseURL, apiKeySealed: nil, apiKeyLast4: nil, model: "parley-demo", systemPrompt: "You are a helpful assistant.",
                temperature: nil, maxOutputTokens: 1024, contextTokens: 8192,
                greeting: "Hi! I'm the Parley demo assistant. Ask me anything — try “show me markdown”.",
                theme: BotTheme(primaryColor: "#1f6feb", launcherIcon: nil, position: "bottom-right"), createdAt: now, updatedAt: now)
            try await services.stores.bots.create(bot, audit: audit.with(type: "demo.bot_created"))
        }
    }
}
