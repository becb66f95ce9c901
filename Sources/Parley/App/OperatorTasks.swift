import Foundation
import Logging

/// What the `parley` subcommands other than `serve` do, as library calls so they are tested
/// like everything else. Each opens the data directory itself; they are safe to run while a
/// server uses the same directory (SQLite serializes the writes, the server picks up a rotated
/// key within 30 s).
public enum OperatorTasks {
    /// Applies pending migrations and returns the identifiers now applied.
    public static func migrate(_ config: ParleyConfig) throws -> [String] {
        try FileManager.default.createDirectory(
            at: config.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let database = try ParleyDatabase.open(at: config.databaseURL, durability: config.durability, busyTimeout: config.busyTimeout)
        return try database.appliedMigrations()
    }

    /// Creates an operator key. The returned key is shown once; only its hash is stored.
    public static func createAdminKey(_ config: ParleyConfig, name: String, clock: WallClock = .system) async throws -> (id: String, key: String) {
        let services = try await ParleyServices.start(config, clock: clock, logger: Logger(label: "parley.cli"))
        let secret = APIKeySecret.generate(.admin)
        let now = clock.nowMilliseconds
        let record = AdminKeyRecord(
            id: RandomToken.id("adm_"), name: name, secretHash: secret.hash, prefix: secret.displayPrefix, createdAt: now, revokedAt: nil)
        try await services.stores.credentials.createAdminKey(
            record,
            audit: AuditEvent(workspaceId: nil, type: "admin_key.created", actor: "cli", data: ["admin_key_id": .string(record.id)], createdAt: now))
        return (record.id, secret.value)
    }

    /// Writes a consistent copy of the database to `destination` with SQLite's online backup,
    /// while a server may be using it (readers and writers are not stopped). `master.key` is not
    /// copied: keep it safe separately, the copy's sealed secrets need it.
    ///
    /// The copy has mode 0600.
    ///
    /// - Throws: `ConfigError` naming the path when there is no database to copy, when
    ///   `destination` already exists or cannot be created; SQLite's error when the copy fails.
    public static func backup(_ config: ParleyConfig, to destination: URL) throws {
        guard !FileManager.default.fileExists(atPath: destination.path) else {
            throw ConfigError(variable: "--to", reason: "\(destination.path) already exists; choose a new file")
        }
        guard FileManager.default.fileExists(atPath: config.databaseURL.path) else {
            throw ConfigError(
                variable: "PARLEY_DATA_DIR",
                reason: "there is no database at \(config.databaseURL.path); point --data-dir (or PARLEY_DATA_DIR) at the server's data folder")
        }
        let source = try ParleyDatabase.open(at: config.databaseURL, durability: config.durability, busyTimeout: config.busyTimeout)
        // Every conversation is in the copy: readable by its owner only, as master.key is, and
        // created so before SQLite writes a byte of it.
        guard FileManager.default.createFile(atPath: destination.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw ConfigError(variable: "--to", reason: "\(destination.path) cannot be created")
        }
        try source.backup(to: destination)
    }

    /// Makes a new embed-token signing key current; returns its `kid`.
    public static func rotateSigningKey(_ config: ParleyConfig, clock: WallClock = .system) async throws -> String {
        let services = try await ParleyServices.start(config, clock: clock, logger: Logger(label: "parley.cli"))
        return try await SigningKeyRing.rotate(store: services.stores.signingKeys, secretBox: services.secretBox, clock: clock, actor: "cli")
    }
}
