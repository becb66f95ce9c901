import Foundation
import GRDB
import Logging
import Parley

/// The SQLite side of a floor (`bare-mint`, `bare-relay --data`): a database opened as Parley
/// opens its own (WAL, `synchronous=FULL`), written through Parley's group committer and kept short
/// by Parley's checkpointer, so a floor's durable writes cost what Parley's do.
struct FloorDatabase: Sendable {
    let committer: GroupCommitter
    /// Run it beside the floor's server, as Parley runs its own.
    let checkpointer: WALCheckpointer

    /// Opens (creating if needed) `file` in `folder`, and runs `schema` once.
    init(folder: String, file: String, schema: String, logger: Logger) throws {
        let url = URL(fileURLWithPath: folder).appendingPathComponent(file)
        let database = try ParleyDatabase.open(at: url, durability: .full, busyTimeout: .seconds(5))
        try database.writer.write { db in try db.execute(sql: schema) }
        committer = GroupCommitter(writer: database.writer)
        checkpointer = try WALCheckpointer(path: url.path, logger: logger)
    }
}
