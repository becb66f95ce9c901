import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The chat API of DESIGN.md §4, for a browser holding an embed token.
///
/// Every query is scoped to the token's workspace, user and bot (`ConversationOwner`): another
/// user's conversation, or the same user's with another bot, is simply not found, and the
/// provider is never called for it.
struct ChatRoutes {
    let services: ParleyServices
    var stream = ReplyStreamResponse()

    static let maxContentBytes = 32 * 1024

    func register(on group: RouterGroup<EmbedRequestContext>) {
        group.get("/conversations", use: listConversations)
        group.post("/conversations", use: createConversation)
        group.get("/conversations/{cid}", use: readConversation)
        group.patch("/conversations/{cid}", use: renameConversation)
        group.delete("/conversations/{cid}", use: deleteConversation)
        group.get("/conversations/{cid}/messages", use: listMessages)
        group.post("/conversations/{cid}/messages", use: postMessage)
        group.get("/conversations/{cid}/messages/{mid}/events", use: resume)
        group.post("/conversations/{cid}/messages/{mid}/cancel", use: cancel)
        group.post("/conversations/{cid}/messages/{mid}/feedback", use: feedback)
    }

    private func owner(_ context: EmbedRequestContext) -> ConversationOwner {
        ConversationOwner(workspaceID: context.session.workspaceID, userID: context.session.userID, botID: context.session.botID)
    }

    private func conversation(_ context: EmbedRequestContext) async throws -> ConversationRecord {
        let id = try context.parameters.require("cid")
        guard let conversation = try await services.chat.conversation(id, owner: owner(context)) else {
            throw ParleyError.notFound("No such conversation.")
        }
        return conversation
    }

    private func message(_ context: EmbedRequestContext, in conversation: ConversationRecord) async throws -> MessageRecord {
        guard let message = try await services.chat.message(try context.parameters.require("mid"), conversationID: conversation.id) else {
            throw ParleyError.notFound("No such message.")
        }
        return message
    }

    // MARK: Conversations

    @Sendable func listConversations(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        let limit = try Validate.limit(request.uri.queryParameters["limit"].map(String.init))
        let page = try await services.chat.conversations(
            owner: owner(context), limit: limit, cursor: request.uri.queryParameters["cursor"].map(String.init))
        return JSONBody.response(json: ChatPageJSON.conversations(page.items, nextCursor: page.nextCursor))
    }

    struct TitleBody: Decodable {
        var title: String?
    }

    @Sendable func createConversation(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(TitleBody.self, from: request, orIfAbsent: TitleBody())
        let now = services.clock.nowMilliseconds
        let created = try await services.chat.createConversation(
            ConversationRecord(
                id: RandomToken.id("conv_"), workspaceId: context.session.workspaceID, userId: context.session.userID,
                botId: context.session.botID, title: try Validate.optionalText(body.title, param: "title", maxLength: 200),
                lastMessagePreview: nil, createdAt: now, updatedAt: now))
        return try JSONBody.response(ConversationView(record: created), status: .created)
    }

    @Sendable func readConversation(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        try JSONBody.response(ConversationView(record: try await conversation(context)))
    }

    @Sendable func renameConversation(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(TitleBody.self, from: request)
        guard let title = body.title else { throw ParleyError.invalidRequest("title is required", param: "title") }
        guard
            let renamed = try await services.chat.renameConversation(
                try context.parameters.require("cid"), owner: owner(context),
                title: try Validate.text(title, param: "title", maxLength: 200), at: services.clock.nowMilliseconds)
        else { throw ParleyError.notFound("No such conversation.") }
        return try JSONBody.response(ConversationView(record: renamed))
    }

    @Sendable func deleteConversation(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        let conversation = try await conversation(context)
        await services.replies.cancelReply(inConversation: conversation.id)
        guard try await services.chat.deleteConversation(conversation.id, owner: owner(context)) else {
            throw ParleyError.notFound("No such conversation.")
        }
        return Response(status: .noContent)
    }

    // MARK: Messages

    @Sendable func listMessages(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        let limit = try Validate.limit(request.uri.queryParameters["limit"].map(String.init), fallback: 50)
        guard
            let (messages, hasMore) = try await services.chat.messages(
                conversationID: try context.parameters.require("cid"), owner: owner(context), limit: limit,
                before: request.uri.queryParameters["before"].map(String.init))
        else { throw ParleyError.notFound("No such conversation.") }
        return JSONBody.response(json: ChatPageJSON.messages(messages, hasMore: hasMore))
    }

    struct PostBody: Decodable {
        var content: String
        var clientMessageID: String?

        enum CodingKeys: String, CodingKey {
            case content
            case clientMessageID = "client_message_id"
        }
    }

    @Sendable func postMessage(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        // Starting a reply takes wide frames (the body, the reply's context, the hub: ~20 KiB).
        // A task keeps the memory of its deepest stack until it ends, and the connection's task
        // lives as long as the stream; a child task gives that memory back as soon as it is done.
        async let started = startReply(request, context: context)
        let run = try await started
        return stream.response(following: run, after: nil, stillAuthorized: stillAuthorized(context))
    }

    private func startReply(_ request: Request, context: EmbedRequestContext) async throws -> ReplyRun {
        let body = try await JSONBody.decode(PostBody.self, from: request)
        guard body.content.utf8.count <= Self.maxContentBytes else { throw ParleyError.payloadTooLarge(limit: Self.maxContentBytes) }
        let content = try Validate.text(body.content, param: "content", maxLength: Self.maxContentBytes, allowNewlines: true)
        let clientID = try Validate.optionalText(body.clientMessageID, param: "client_message_id", maxLength: 128)
        let session = context.session
        return try await services.replies.start(
            .init(
                owner: owner(context), conversationID: try context.parameters.require("cid"), content: content, clientMessageID: clientID,
                settings: session.workspace.settings, allowance: services.messageAllowance(workspace: session.workspace, userID: session.userID)))
    }

    /// Resumes a reply's stream after the event named by `Last-Event-ID` (or `?after=`).
    @Sendable func resume(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        let conversation = try await conversation(context)
        let message = try await message(context, in: conversation)
        guard message.role == .assistant else { throw ParleyError.notFound("No such reply.") }
        let after = try Self.resumePoint(request, messageID: message.id)
        guard let follow = try await services.replies.follow(message, after: after) else { throw ParleyError.notFound("No such reply.") }
        return stream.response(following: follow.run, after: follow.after, stillAuthorized: stillAuthorized(context))
    }

    static func resumePoint(_ request: Request, messageID: String) throws -> Int? {
        if let header = request.headers[.lastEventID] {
            let parts = header.split(separator: ":")
            guard parts.count == 2, parts[0] == messageID, let seq = Int(parts[1]), seq >= -1 else {
                throw ParleyError.invalidRequest("Last-Event-ID must be <message id>:<seq> of this reply", param: "Last-Event-ID")
            }
            return seq
        }
        if let raw = request.uri.queryParameters["after"] {
            guard let seq = Int(raw), seq >= -1 else { throw ParleyError.invalidRequest("after must be an integer", param: "after") }
            return seq
        }
        return nil
    }

    @Sendable func cancel(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        let conversation = try await conversation(context)
        let message = try await message(context, in: conversation)
        guard message.role == .assistant else { throw ParleyError.notFound("No such reply.") }
        _ = await services.replies.cancel(message.id)
        return try JSONBody.response(["status": "cancelling"], status: .accepted)
    }

    struct FeedbackBody: Decodable {
        var rating: String
        var comment: String?
    }

    @Sendable func feedback(_ request: Request, context: EmbedRequestContext) async throws -> Response {
        let conversation = try await conversation(context)
        let message = try await message(context, in: conversation)
        guard message.role == .assistant else { throw ParleyError.notFound("No such reply.") }
        let body = try await JSONBody.decode(FeedbackBody.self, from: request)
        let rating = try Validate.oneOf(body.rating, ["up", "down"], param: "rating")!
        let now = services.clock.nowMilliseconds
        try await services.chat.saveFeedback(
            FeedbackRecord(
                messageId: message.id, workspaceId: conversation.workspaceId, userId: conversation.userId, rating: rating,
                comment: try Validate.optionalText(body.comment, param: "comment", maxLength: 4000, allowNewlines: true),
                createdAt: now, updatedAt: now))
        return Response(status: .noContent)
    }

    /// Whether the token behind `context` still stands: not expired, and not revoked since the
    /// stream began. A follower whose token lapses is let go (the reply itself goes on and is
    /// stored); the widget resumes with a fresh token.
    private func stillAuthorized(_ context: EmbedRequestContext) -> @Sendable () async -> Bool {
        let jti = context.session.claims.jti
        let expiresAt = context.session.claims.exp
        let (tokens, clock) = (services.stores.tokens, services.clock)
        return {
            guard Int64(clock.now.timeIntervalSince1970) < expiresAt else { return false }
            do {
                guard let record = try await tokens.findToken(jti: jti) else { return false }
                return record.revokedAt == nil
            } catch {
                return true  // storage busy: keep the stream; the next check decides
            }
        }
    }
}

extension HTTPField.Name {
    static let lastEventID = Self("Last-Event-ID")!
}
