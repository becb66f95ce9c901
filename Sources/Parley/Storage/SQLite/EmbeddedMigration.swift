/// One schema step compiled into the binary from `Migrations/NNNN_name.sql` by the
/// `EmbedResources` build plugin (see `EmbeddedMigrations.all`).
struct EmbeddedMigration: Sendable {
    /// The file name without `.sql`; recorded in the database once applied, so it never changes.
    let identifier: String
    let sql: String
}
