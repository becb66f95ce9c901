import GRDB

/// SQLite's ways of saying "not now": a full disk, or a lock held past the busy timeout.
enum SQLiteRefusal {
    static func classify(_ error: any Error) -> StorageHealth.Refusal? {
        guard let error = error as? DatabaseError else { return nil }
        switch error.resultCode {
        case .SQLITE_FULL: return .full
        case .SQLITE_BUSY, .SQLITE_LOCKED: return .busy
        default: return nil
        }
    }
}
