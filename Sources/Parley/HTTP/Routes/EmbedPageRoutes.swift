import Foundation
import Hummingbird
import Logging

/// `GET /embedded-chat?token=…`: the whole chat as a page for an iframe (DESIGN.md §6, seed `000_…`).
///
/// The token is checked here first, to learn the workspace: its allowed origins become the
/// page's `frame-ancestors` and the only `targetOrigin`s the page posts to. An expired but
/// genuine token still gets the page, so it can tell its parent `PARLEY_EMBED_TOKEN_EXPIRED`;
/// a token that is not genuine gets a refusal that no site may frame.
struct EmbedPageRoutes {
    let services: ParleyServices

    func register(on router: Router<ParleyRequestContext>) {
        router.get("/embedded-chat", use: page)
    }

    struct PageData: Encodable {
        var allowedOrigins: [String]
        var theme: String?
        var primaryColor: String?
        var hideHeader: Bool
        var locale: String?

        enum CodingKeys: String, CodingKey {
            case theme, locale
            case allowedOrigins = "allowed_origins"
            case primaryColor = "primary_color"
            case hideHeader = "hide_header"
        }
    }

    @Sendable func page(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        guard let token = query["token"].map(String.init), !token.isEmpty else {
            return try HTMLPage.notice("Chat unavailable", "This page needs an embed token.", status: .unauthorized)
        }
        let session: EmbedSession
        do {
            session = try await services.tokens.verify(token, checkLifetime: false)
        } catch let error as ParleyError {
            context.logger.notice("embedded chat refused a token", metadata: ["parley.code": "\(error.code)"])
            return try HTMLPage.notice("Chat unavailable", "This chat link is not valid.", status: .unauthorized)
        }
        let data = PageData(
            allowedOrigins: session.workspace.allowedOrigins,
            theme: query["theme"].map(String.init).flatMap { ["light", "dark"].contains($0) ? $0 : nil },
            primaryColor: query["primaryColor"].map(String.init).flatMap { try? Validate.color($0, param: "primaryColor") },
            hideHeader: query["hideHeader"] == "true",
            locale: query["locale"].map(String.init).map { String($0.prefix(16)) })
        return try HTMLPage.response(
            HTMLPage.Content(
                title: "Chat", lang: data.locale.map { String($0.prefix(2)) } ?? "en",
                body: "<main id=\"chat\" class=\"embedded\"></main>", data: data,
                scripts: ["/widget.js", "/embedded-chat.js"]),
            frameAncestors: session.workspace.allowedOrigins)
    }
}
