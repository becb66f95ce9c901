import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `/admin/v1/workspaces/{wid}/conversations…`, `…/export`, `…/users/{uid}` and `…/usage`: what
/// an operator needs to see, hand over and erase a workspace's conversations.
struct AdminConversationRoutes {
    let services: ParleyServices

    func register(on group: RouterGroup<AdminRequestContext>) {
        group.get("/workspaces/{wid}/conversations", use: list)
        group.get("/workspaces/{wid}/conversations/{cid}", use: read)
        group.delete("/workspaces/{wid}/conversations/{cid}", use: delete)
        group.get("/workspaces/{wid}/export", use: export)
        group.delete("/workspaces/{wid}/users/{uid}", use: eraseUser)
        group.get("/workspaces/{wid}/usage", use: usage)
    }

    /// A conversation as operators see it: with its user and bot.
    struct AdminConversationView: Encodable {
        var conversation: ConversationRecord
        var messages: [MessageRecord]?

        enum CodingKeys: String, CodingKey {
            case id, title, messages
            case userID = "user_id"
            case botID = "bot_id"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
            case lastMessagePreview = "last_message_preview"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(conversation.id, forKey: .id)
            try container.encode(conversation.userId, forKey: .userID)
            try container.encode(conversation.botId, forKey: .botID)
            try container.encode(conversation.title, forKey: .title)
            try container.encode(conversation.lastMessagePreview, forKey: .lastMessagePreview)
            try container.encode(Date(milliseconds: conversation.createdAt), forKey: .createdAt)
            try container.encode(Date(milliseconds: conversation.updatedAt), forKey: .updatedAt)
            if let messages { try container.encode(messages.map { MessageView(record: $0) }, forKey: .messages) }
        }
    }

    @Sendable func list(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let query = request.uri.queryParameters
        let page = try await services.chat.workspaceConversations(
            workspaceID: workspace.id, userID: query["user_id"].map(String.init),
            updatedSince: try query["since"].map { try TimeQuery.milliseconds(String($0), param: "since") },
            limit: try Validate.limit(query["limit"].map(String.init)), cursor: query["cursor"].map(String.init))
        return try JSONBody.response(ListBody(data: page.items.map { AdminConversationView(conversation: $0) }, nextCursor: page.nextCursor))
    }

    @Sendable func read(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        guard let conversation = try await services.chat.conversationInWorkspace(try context.parameters.require("cid"), workspaceID: workspace.id)
        else { throw ParleyError.notFound("No such conversation.") }
        let messages = try await allMessages(of: conversation.id)
        return try JSONBody.response(AdminConversationView(conversation: conversation, messages: messages))
    }

    @Sendable func delete(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let id = try context.parameters.require("cid")
        await services.replies.cancelReply(inConversation: id)
        guard try await services.chat.deleteConversation(id, workspaceID: workspace.id) else { throw ParleyError.notFound("No such conversation.") }
        try await services.stores.audit.record(
            AuditEvent(workspaceId: workspace.id, type: "conversation.deleted", actor: context.credential.id, data: ["conversation_id": .string(id)],
                       createdAt: services.clock.nowMilliseconds))
        return Response(status: .noContent)
    }

    /// Every message of a conversation, read a page at a time.
    private func allMessages(of conversationID: String) async throws -> [MessageRecord] {
        var all: [MessageRecord] = []
        var before: String?
        repeat {
            let page = try await services.chat.messages(conversationID: conversationID, limit: 100, before: before)
            all.insert(contentsOf: page.items, at: 0)
            before = page.hasMore ? page.items.first?.id : nil
        } while before != nil
        return all
    }

    /// NDJSON, one conversation with its messages per line, written as it is read: memory stays
    /// flat however large the workspace.
    @Sendable func export(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let since = try request.uri.queryParameters["since"].map { try TimeQuery.milliseconds(String($0), param: "since") }
        let chat = services.chat
        let routes = self
        var headers = HTTPFields()
        headers[.contentType] = "application/x-ndjson"
        headers[.contentDisposition] = "attachment; filename=\"\(workspace.id)-export.ndjson\""
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var cursor: String?
                repeat {
                    let page = try await chat.workspaceConversations(
                        workspaceID: workspace.id, userID: nil, updatedSince: since, limit: 100, cursor: cursor)
                    for conversation in page.items {
                        let line = AdminConversationView(conversation: conversation, messages: try await routes.allMessages(of: conversation.id))
                        var buffer = ByteBuffer(bytes: try JSONBody.encoder.encode(line))
                        buffer.writeString("\n")
                        try await writer.write(buffer)
                    }
                    cursor = page.nextCursor
                } while cursor != nil
                try await writer.finish(nil)
            })
    }

    struct Erased: Encodable {
        var conversations: Int
        var tokens: Int
    }

    /// Erases a user: conversations, messages, feedback, usage rows and tokens, in one transaction.
    @Sendable func eraseUser(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let userID = try context.parameters.require("uid")
        let erased = try await services.chat.eraseUser(
            workspaceID: workspace.id, userID: userID,
            audit: AuditEvent(workspaceId: workspace.id, type: "user.erased", actor: context.credential.id, createdAt: services.clock.nowMilliseconds))
        context.logger.notice("user erased", metadata: ["parley.workspace_id": "\(workspace.id)", "parley.conversations": "\(erased.conversations)"])
        return try JSONBody.response(Erased(conversations: erased.conversations, tokens: erased.tokens))
    }

    struct UsageBody: Encodable {
        var from: String
        var to: String
        var groupBy: String
        var data: [UsageRow]

        enum CodingKeys: String, CodingKey {
            case from, to, data
            case groupBy = "group_by"
        }
    }

    @Sendable func usage(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let workspace = try await services.workspace(try context.parameters.require("wid"), visibleTo: context.credential)
        let query = request.uri.queryParameters
        let today = UsageDay.string(for: services.clock.nowMilliseconds)
        let from = try Self.day(query["from"].map(String.init), param: "from") ?? String(today.prefix(8)) + "01"
        let to = try Self.day(query["to"].map(String.init), param: "to") ?? today
        let group = query["group_by"].map(String.init) ?? "day"
        let column: String
        switch group {
        case "day": column = "day"
        case "bot": column = "bot_id"
        case "user": column = "user_id"
        default: throw ParleyError.invalidRequest("group_by must be day, bot or user", param: "group_by")
        }
        let rows = try await services.chat.usage(workspaceID: workspace.id, from: from, to: to, groupBy: column)
        return try JSONBody.response(UsageBody(from: from, to: to, groupBy: group, data: rows))
    }

    static func day(_ raw: String?, param: String) throws -> String? {
        guard let raw else { return nil }
        guard raw.wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil else {
            throw ParleyError.invalidRequest("\(param) must be a day such as 2026-01-31", param: param)
        }
        return raw
    }
}
