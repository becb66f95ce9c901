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
