import Foundation
import Hummingbird

/// `GET /view/{workspaceId}/{conversationId}?auth_token=…&view_as=…&valid_until=…`: a read-only,
/// live-updating page of one conversation, opened by a signed link (DESIGN.md §5, seed `001_…`).
///
/// The signature is checked on the server before anything is read or shown. A missing workspace
/// answers exactly like a wrong signature, so links cannot probe for tenants.
struct ViewRoutes {
    let services: ParleyServices

    func register(on router: Router<ParleyRequestContext>) {
        router.get("/view/{wid}/{cid}", use: page)
        router.get("/view/{wid}/{cid}/messages", use: messages)
    }

    enum Access {
        case granted(WorkspaceRecord, ConversationRecord)
        case refused(ViewSignature.Verdict)
        case missing
    }

    func access(_ request: Request, context: ParleyRequestContext) async throws -> Access {
        let workspaceID = try context.parameters.require("wid")
        let conversationID = try context.parameters.require("cid")
        let query = request.uri.queryParameters
        guard let workspace = try await services.stores.workspaces.find(workspaceID) else { return .refused(.invalid) }
        let verdict = ViewSignature.verify(
            query["auth_token"].map(String.init), secret: try services.viewSecret(of: workspace), conversationID: conversationID,
            validUntil: query["valid_until"].map(String.init), requireExpiry: workspace.settings.requireViewExpiry,
            now: services.clock.nowMilliseconds)
        guard verdict == .valid else { return .refused(verdict) }
        guard let conversation = try await services.chat.conversationInWorkspace(conversationID, workspaceID: workspaceID) else {
            return .missing
        }
        return .granted(workspace, conversation)
    }

    struct PageData: Encodable {
        var conversation: ConversationView
        var messages: [MessageView]
        var mine: String?
        var pollPath: String

        enum CodingKeys: String, CodingKey {
            case conversation, messages, mine
            case pollPath = "poll_path"
        }
    }

    @Sendable func page(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        switch try await access(request, context: context) {
        case .refused(.expired):
            return try HTMLPage.notice("Link expired", "This conversation link has expired. Ask for a new one.", status: .forbidden)
        case .refused:
            return try HTMLPage.notice("Link not valid", "This conversation link is not valid.", status: .forbidden)
        case .missing:
            return try HTMLPage.notice("Not found", "This conversation no longer exists.", status: .notFound)
        case .granted(let workspace, let conversation):
            let recent = try await services.chat.messages(conversationID: conversation.id, limit: 100, before: nil)
            let viewAs = request.uri.queryParameters["view_as"].map(String.init)
            var poll = "/view/\(workspace.id)/\(conversation.id)/messages?auth_token=" + (request.uri.queryParameters["auth_token"].map(String.init) ?? "")
            if let validUntil = request.uri.queryParameters["valid_until"] { poll += "&valid_until=\(validUntil)" }
            let data = PageData(
                conversation: ConversationView(record: conversation), messages: recent.items.map { MessageView(record: $0) },
                mine: viewAs == conversation.userId ? "user" : nil, pollPath: poll)
            return try HTMLPage.response(
                HTMLPage.Content(
                    title: conversation.title ?? "Conversation",
                    body: """
                        <main class="view">
                          <header><h1 id="title"></h1><span class="badge">Read-only</span></header>
                          <ol id="messages" aria-live="polite"></ol>
                        </main>
                        """,
                    data: data, scripts: ["/widget.js", "/view.js"]),
                frameAncestors: workspace.allowedOrigins)
        }
    }

    /// The messages as JSON, for the page's live updates; the same signature rules.
    @Sendable func messages(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        switch try await access(request, context: context) {
        case .refused(.expired): throw ParleyError.linkExpired
        case .refused: throw ParleyError.invalidSignature
        case .missing: throw ParleyError.notFound("No such conversation.")
        case .granted(_, let conversation):
            let recent = try await services.chat.messages(conversationID: conversation.id, limit: 100, before: nil)
            return try JSONBody.response(ListBody(data: recent.items.map { MessageView(record: $0) }, nextCursor: nil))
        }
    }
}
