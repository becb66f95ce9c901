import Foundation
import GRDB

/// A record whose rows are read by column position rather than by column name, and written from
/// the same list of columns (`ColumnListRecord`).
///
/// Looking a column up by name hashes the name, once per column per row, and history pages read
/// these by the dozen (bench/README.md, "Figures behind the hand-written paths"). Reading by
/// position is only right if every read selects the same columns
/// in the same order, so the record states its columns once: query-interface requests select
/// them through `databaseSelection`, raw SQL through `selectionSQL`, and `checkShape(of:)`
/// refuses a row of any other shape instead of misreading it.
protocol PositionallyDecodedRecord: FetchableRecord, ColumnListRecord {
    /// The columns, in the order `init(row:)` reads them and `columnValues()` lists them: the
    /// table's own order, so that even a `SELECT *` reads right.
    static var columnNames: [String] { get }
}

extension PositionallyDecodedRecord {
    /// `columnNames`, so query-interface requests select the columns `init(row:)` reads. (This
    /// replaces `TableRecord`'s `*` for every conforming type; a test checks that it does.)
    static var databaseSelection: [any SQLSelectable] { columnNames.map { Column($0) } }

    /// `columnNames` as a comma-separated list, for `SELECT \(selectionSQL) FROM …` (build the
    /// statement once: this joins the names on every call).
    static var selectionSQL: String { columnNames.joined(separator: ", ") }

    /// Throws unless `row` has the record's columns. The count is checked on every row, which
    /// catches a `SELECT *` once a migration adds a column the list lacks; debug builds (every
    /// test) also compare the names, which catches any other selection.
    static func checkShape(of row: Row) throws {
        guard row.count == columnNames.count else {
            throw DatabaseError(message: "\(databaseTableName): expected the columns \(selectionSQL), got \(Array(row.columnNames))")
        }
        assert(Array(row.columnNames) == columnNames, "\(databaseTableName): columns \(Array(row.columnNames))")
    }

    /// A column holding a JSON document (a list, a settings object), read as GRDB's `Codable`
    /// route reads it: with the record's `databaseJSONDecoder(for:)`. `decoder` is that decoder,
    /// made once by the record rather than once per row.
    static func decodeJSON<Value: Decodable>(_ type: Value.Type, _ row: Row, atIndex index: Int, with decoder: JSONDecoder) throws -> Value {
        let json: Data = try row.decode(atIndex: index)
        return try decoder.decode(Value.self, from: json)
    }

    /// The JSON text `decodeJSON` reads back, as GRDB's `Codable` route would store it.
    static func encodeJSON(_ value: some Encodable, with encoder: JSONEncoder) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A `String`-backed enum, read through the fast `String` path.
    static func decodeRaw<Value: RawRepresentable>(_ type: Value.Type, _ row: Row, atIndex index: Int) throws -> Value
    where Value.RawValue == String {
        try Value.stored(try row.decode(atIndex: index), in: databaseTableName)
    }
}

extension RawRepresentable where RawValue == String {
    /// A value as a table stores it, by its raw string; one outside the type is an error, not a guess.
    static func stored(_ raw: String, in table: String) throws -> Self {
        guard let value = Self(rawValue: raw) else { throw DatabaseError(message: "\(table): \(raw) is not a \(Self.self)") }
        return value
    }
}
