import GRDB
import GRDBSQLite

/// Text that SQLite holds for the row a statement is on, read in place: nothing is copied or
/// decoded, and the bytes are valid only until the statement steps again.
struct SQLiteText {
    let bytes: UnsafeRawBufferPointer

    /// The column's text, or nil if it is NULL.
    init?(column index: CInt, of statement: SQLiteStatement) throws {
        guard sqlite3_column_type(statement, index) != SQLITE_NULL else { return nil }
        // `sqlite3_column_bytes` after `sqlite3_column_text`, so that it counts the text's bytes.
        guard let start = sqlite3_column_text(statement, index) else {
            throw DatabaseError(resultCode: .SQLITE_NOMEM, message: "reading column \(index)")
        }
        bytes = UnsafeRawBufferPointer(start: start, count: Int(sqlite3_column_bytes(statement, index)))
    }

    /// The text as a `String`, decoded as GRDB decodes a `String` column (invalid UTF-8 repaired).
    var string: String { String(decoding: bytes, as: UTF8.self) }
}

/// A message as a page of history shows it, read in place from the row its statement is on.
///
/// A history page read into `MessageRecord`s makes a `String` of each of a row's text columns (an
/// allocation, a UTF-8 check and a copy each), only to write a few of them into the page and drop
/// them. This reads the nine columns the page shows and keeps SQLite's bytes. It must not outlive the step it was read at, so it is only
/// ever handed, borrowed, to a `MessageRowConsumer`.
struct BorrowedMessageRow {
    /// The columns `init` reads, in its order.
    static let selectionSQL = "id, conversation_id, role, content, status, finish_reason, input_tokens, output_tokens, created_at"
    private static let columnCount: CInt = 9

    let id: SQLiteText
    let conversationId: SQLiteText
    let role: MessageRole
    let content: SQLiteText
    let status: ReplyStatus?
    let finishReason: SQLiteText?
    let inputTokens: Int?
    let outputTokens: Int?
    let createdAt: Int64

    /// Reads the row `statement` is on, which must select `selectionSQL`. Throws, as reading a
    /// `MessageRecord` does, when a column the record requires is NULL or a role or status is
    /// not one Parley knows.
    init(_ statement: SQLiteStatement) throws {
        guard sqlite3_column_count(statement) == Self.columnCount else {
            throw DatabaseError(message: "messages: expected the columns \(Self.selectionSQL)")
        }
        id = try Self.required(0, statement)
        conversationId = try Self.required(1, statement)
        // A role or status is a few ASCII bytes, which make a `String` without allocating.
        role = try .stored(try Self.required(2, statement).string, in: MessageRecord.databaseTableName)
        content = try Self.required(3, statement)
        status = try SQLiteText(column: 4, of: statement).map { try .stored($0.string, in: MessageRecord.databaseTableName) }
        finishReason = try SQLiteText(column: 5, of: statement)
        inputTokens = Self.integer(6, statement).map { Int($0) }
        outputTokens = Self.integer(7, statement).map { Int($0) }
        guard let createdAt = Self.integer(8, statement) else { throw Self.missing(8, statement) }
        self.createdAt = createdAt
    }

    private static func required(_ index: CInt, _ statement: SQLiteStatement) throws -> SQLiteText {
        guard let text = try SQLiteText(column: index, of: statement) else { throw missing(index, statement) }
        return text
    }

    private static func integer(_ index: CInt, _ statement: SQLiteStatement) -> Int64? {
        sqlite3_column_type(statement, index) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, index)
    }

    private static func missing(_ index: CInt, _ statement: SQLiteStatement) -> DatabaseError {
        DatabaseError(message: "messages: \(String(cString: sqlite3_column_name(statement, index))) is NULL")
    }
}

/// Takes the messages of a page as the store reads them, newest first, each borrowed for the
/// call only; the store hands the consumer back once the read is over.
protocol MessageRowConsumer: Sendable {
    mutating func add(_ row: borrowing BorrowedMessageRow)
}
