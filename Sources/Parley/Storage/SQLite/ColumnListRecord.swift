import GRDB

/// A record written from one list of its columns and one list of their values, in the same order.
///
/// The rows written on every mint and every message go through here. GRDB's `insert` builds its
/// persistence helper and looks its statement up again on every call; `insertRow(_:)` executes
/// one statement prepared once per connection. `encode(to:)` writes the same list, so GRDB's own persistence methods and the
/// tests see the very row `insertRow` writes.
protocol ColumnListRecord: TableRecord {
    /// The columns a row is written to.
    static var columnNames: [String] { get }
    /// `makeInsertSQL()`, kept by the type (`static let insertSQL = makeInsertSQL()`): every
    /// mint and every message inserts, so the statement's text is not rebuilt each time.
    static var insertSQL: String { get }
    /// The values of `columnNames`, in the same order.
    func columnValues() throws -> [(any DatabaseValueConvertible)?]
}

extension ColumnListRecord {
    /// `INSERT INTO table (columns) VALUES (?, …)`.
    static func makeInsertSQL() -> String {
        "INSERT INTO \(databaseTableName) (\(columnNames.joined(separator: ", "))) VALUES ("
            + Array(repeating: "?", count: columnNames.count).joined(separator: ", ") + ")"
    }

    /// Inserts the row; a nil integer primary key is assigned by SQLite, as with `insert`.
    func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: Self.insertSQL).execute(arguments: StatementArguments(columnValues()))
    }

    /// The body of `encode(to:)` for such a record.
    func encodeColumns(to container: inout PersistenceContainer) throws {
        let values = try columnValues()
        assert(values.count == Self.columnNames.count, "\(Self.databaseTableName): \(values.count) values for \(Self.columnNames.count) columns")
        for (name, value) in zip(Self.columnNames, values) { container[name] = value }
    }
}
