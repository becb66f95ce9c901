import Foundation

// The storage seams. Services depend on these protocols, not on SQLite, so that a second backend
// (PostgreSQL for several instances, DESIGN.md §8) is an added conformance, not a rewrite.
// Every mutation that an operator may need to trace takes the `AuditEvent` to write with it, in
// the same transaction: an action and its audit line are stored together or not at all.

/// A page of a list, newest first, with the cursor of the next page when there is one.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?
}

protocol WorkspaceStore: Sendable {
    func create(_ workspace: WorkspaceRecord, audit: AuditEvent) async throws
    func find(_ id: String) async throws -> WorkspaceRecord?
    func list(ids: Set<String>?, limit: Int, cursor: String?) async throws -> Page<WorkspaceRecord>
    func update(_ workspace: WorkspaceRecord, audit: AuditEvent) async throws
    /// - Returns: whether the workspace existed.
    func delete(_ id: String, audit: AuditEvent) async throws -> Bool
}

protocol BotStore: Sendable {
    /// Stores the bot; the workspace's first bot becomes its default.
    func create(_ bot: BotRecord, audit: AuditEvent) async throws
    func find(workspaceID: String, botID: String) async throws -> BotRecord?
    func list(workspaceID: String) async throws -> [BotRecord]
    /// For operator calls that name a bot without its workspace.
    func workspaceID(ofBot botID: String) async throws -> String?
    func update(_ bot: BotRecord, makeDefault: Bool, audit: AuditEvent) async throws
    /// Deletes the bot; when it was the default, the newest remaining bot takes its place.
    func delete(workspaceID: String, botID: String, audit: AuditEvent) async throws -> Bool
}

protocol CredentialStore: Sendable {
    func createAPIKey(_ key: APIKeyRecord, audit: AuditEvent) async throws
    func listAPIKeys(workspaceID: String) async throws -> [APIKeyRecord]
    func revokeAPIKey(workspaceID: String, keyID: String, at time: Int64, audit: AuditEvent) async throws -> Bool
    func findAPIKey(secretHash: Data) async throws -> APIKeyRecord?
    func markUsed(apiKeyID: String, at time: Int64) async throws
    func createAdminKey(_ key: AdminKeyRecord, audit: AuditEvent) async throws
    func findAdminKey(secretHash: Data) async throws -> AdminKeyRecord?
}

protocol SigningKeyStore: Sendable {
    /// Every key ever created, newest first.
    func allSigningKeys() async throws -> [SigningKeyRecord]
    /// Adds `key` as the signing key and retires the others at `key.createdAt`.
    func rotate(to key: SigningKeyRecord, audit: AuditEvent) async throws
    /// The keys a verifier may still meet: unretired ones and retired ones with unexpired tokens.
    func publishableSigningKeys(now: Int64) async throws -> [SigningKeyRecord]
}

protocol EmbedTokenStore: Sendable {
    /// Records an issued token with its audit line; durable when it returns (group commit).
    func recordIssued(_ token: EmbedTokenRecord, audit: AuditEvent) async throws
    func findToken(jti: String) async throws -> EmbedTokenRecord?
    /// The token's row and its workspace's: what checking an embed token reads.
    func findToken(jti: String, withWorkspace workspaceID: String) async throws -> (EmbedTokenRecord?, WorkspaceRecord?)
    /// Each revokes tokens not yet revoked nor expired, and returns how many.
    func revoke(jti: String, workspaceID: String, at time: Int64, audit: AuditEvent) async throws -> Int
    func revokeUser(workspaceID: String, userID: String, at time: Int64, audit: AuditEvent) async throws -> Int
    func revokeWorkspace(workspaceID: String, at time: Int64, audit: AuditEvent) async throws -> Int
}

protocol AuditStore: Sendable {
    func record(_ event: AuditEvent) async throws
    func list(workspaceID: String, type: String?, since: Int64?, limit: Int, cursor: String?) async throws -> Page<AuditEvent>
}

/// Every store, as the application receives them.
struct Stores: Sendable {
    var workspaces: any WorkspaceStore
    var bots: any BotStore
    var credentials: any CredentialStore
    var signingKeys: any SigningKeyStore
    var tokens: any EmbedTokenStore
    var audit: any AuditStore
    var chat: any ChatStore
}
