import Foundation
import GRDB

// How the domain records are stored in SQLite: their tables and their GRDB conformances, through
// `Codable` (a record's camelCase properties are its table's snake_case columns; lists, settings
// and audit details are JSON text).

/// A row type: Codable, with snake_case columns for its camelCase properties.
public protocol StoredRecord: Codable, Sendable, FetchableRecord, PersistableRecord {}

extension StoredRecord {
    public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
    public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
}

extension WorkspaceRecord: StoredRecord {
    static let databaseTableName = "workspaces"
}

extension BotRecord: StoredRecord {
    static let databaseTableName = "bots"
}

extension APIKeyRecord: StoredRecord {
    static let databaseTableName = "api_keys"
}

extension AdminKeyRecord: StoredRecord {
    static let databaseTableName = "admin_keys"
}

extension SigningKeyRecord: StoredRecord {
    static let databaseTableName = "signing_keys"
}

extension EmbedTokenRecord: StoredRecord {
    static let databaseTableName = "embed_tokens"
}

extension AuditEvent: StoredRecord {
    public static let databaseTableName = "audit_events"

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}

// Conversations and messages are read by the page (fifty messages of history, twenty conversations
// of a list, up to two hundred messages of a reply's context), so they are read and written by
// column name here, as GRDB's own records are, rather than through `Codable`: its snake-case key
// conversion for every column of every row made a history page several times slower
// (bench/README.md, "Back to the libraries").

extension ConversationRecord {
    init(row: Row) throws {
        seq = try row.decode(forColumn: "seq")
        id = try row.decode(forColumn: "id")
        workspaceId = try row.decode(forColumn: "workspace_id")
        userId = try row.decode(forColumn: "user_id")
        botId = try row.decode(forColumn: "bot_id")
        title = try row.decode(forColumn: "title")
        lastMessagePreview = try row.decode(forColumn: "last_message_preview")
        createdAt = try row.decode(forColumn: "created_at")
        updatedAt = try row.decode(forColumn: "updated_at")
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["seq"] = seq
        container["id"] = id
        container["workspace_id"] = workspaceId
        container["user_id"] = userId
        container["bot_id"] = botId
        container["title"] = title
        container["last_message_preview"] = lastMessagePreview
        container["created_at"] = createdAt
        container["updated_at"] = updatedAt
    }
}

extension MessageRecord {
    init(row: Row) throws {
        seq = try row.decode(forColumn: "seq")
        id = try row.decode(forColumn: "id")
        conversationId = try row.decode(forColumn: "conversation_id")
        workspaceId = try row.decode(forColumn: "workspace_id")
        userId = try row.decode(forColumn: "user_id")
        botId = try row.decode(forColumn: "bot_id")
        role = try row.decode(forColumn: "role")
        content = try row.decode(forColumn: "content")
        status = try row.decode(forColumn: "status")
        finishReason = try row.decode(forColumn: "finish_reason")
        errorCode = try row.decode(forColumn: "error_code")
        model = try row.decode(forColumn: "model")
        inputTokens = try row.decode(forColumn: "input_tokens")
        outputTokens = try row.decode(forColumn: "output_tokens")
        clientMessageId = try row.decode(forColumn: "client_message_id")
        replyTo = try row.decode(forColumn: "reply_to")
        createdAt = try row.decode(forColumn: "created_at")
        updatedAt = try row.decode(forColumn: "updated_at")
        terminalSeq = try row.decode(forColumn: "terminal_seq")
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["seq"] = seq
        container["id"] = id
        container["conversation_id"] = conversationId
        container["workspace_id"] = workspaceId
        container["user_id"] = userId
        container["bot_id"] = botId
        container["role"] = role
        container["content"] = content
        container["status"] = status
        container["finish_reason"] = finishReason
        container["error_code"] = errorCode
        container["model"] = model
        container["input_tokens"] = inputTokens
        container["output_tokens"] = outputTokens
        container["client_message_id"] = clientMessageId
        container["reply_to"] = replyTo
        container["created_at"] = createdAt
        container["updated_at"] = updatedAt
        container["terminal_seq"] = terminalSeq
    }
}

extension ConversationRecord: StoredRecord {
    static let databaseTableName = "conversations"

    mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}

extension MessageRecord: StoredRecord {
    static let databaseTableName = "messages"

    mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}

extension FeedbackRecord: StoredRecord {
    static let databaseTableName = "feedback"
}

extension MessageRole: DatabaseValueConvertible {}
extension ReplyStatus: DatabaseValueConvertible {}
