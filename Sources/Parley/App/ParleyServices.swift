import CurlStream
import Foundation
import Logging

/// Everything the routes need, built once by `buildApplication` and passed to each route group.
struct ParleyServices: Sendable {
    let config: ParleyConfig
    /// The one storage backend; routes and services reach it through `stores`.
    let storage: any StorageBackend
    let stores: Stores
    let secretBox: SecretBox
    let keyRing: SigningKeyRing
    let tokens: EmbedTokenService
    let mintLimiter: RateLimiter
    let messageLimiter: RateLimiter
    var chat: any ChatStore { stores.chat }
    /// Runs replies in this process; its drain and trim are services of the application.
    let hub: GenerationHub
    /// What the routes use to start, follow and cancel replies: the hub, behind its seam.
    var replies: any ReplyBroker { hub }
    /// Saves streaming replies' text; a service of the application.
    let replyTextFlusher: ReplyTextFlusher
    let upstreamGuard: UpstreamGuard
    let curl: CurlClient
    let metrics: ParleyMetrics
    /// Whether storage lately refused writes for lack of space (`/readyz`, error messages).
    let storageHealth: StorageHealth
    let clock: WallClock
    let logger: Logger

    /// The workspace `id` if `credential` may see it.
    ///
    /// - Throws: 404 `workspace_not_found` both when it does not exist and when it belongs to
    ///   someone else, so a key cannot probe for other tenants' ids.
    func workspace(_ id: String, visibleTo credential: APICredential) async throws -> WorkspaceRecord {
        guard credential.canSee(workspaceID: id), let workspace = try await stores.workspaces.find(id) else {
            throw ParleyError.workspaceNotFound
        }
        return workspace
    }

    /// The workspace's view secret in the clear, for the admin API and signature checks.
    func viewSecret(of workspace: WorkspaceRecord) throws -> String {
        String(decoding: try secretBox.unseal(workspace.viewSecretSealed, label: Self.viewSecretLabel(workspace.id)), as: UTF8.self)
    }

    func sealViewSecret(_ secret: String, workspaceID: String) throws -> Data {
        try secretBox.seal(Data(secret.utf8), label: Self.viewSecretLabel(workspaceID))
    }

    static func viewSecretLabel(_ workspaceID: String) -> String { "workspace:\(workspaceID):view_secret" }
    static func providerKeyLabel(_ botID: String) -> String { "bot:\(botID):api_key" }

    /// A new view secret: 32 random bytes as lowercase hex.
    static func newViewSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).hexEncoded
    }

    /// The user's messages per minute, for the hub to spend on a post.
    func messageAllowance(workspace: WorkspaceRecord, userID: String) -> MessageAllowance {
        let perMinute = workspace.settings.messagesPerMinute
        return MessageAllowance(
            limiter: messageLimiter, key: "\(workspace.id)\u{1F}\(userID)",
            limit: RateLimiter.Limit(ratePerSecond: Double(perMinute) / 60, burst: perMinute), metrics: metrics)
    }

    /// Spends one token of the caller's mint bucket.
    ///
    /// - Throws: 429 `rate_limited` with `Retry-After` when the bucket is empty.
    func checkMintRate(credential: APICredential, workspace: WorkspaceRecord) throws {
        let key = credential.isOperator ? "\(credential.id)/\(workspace.id)" : credential.id
        let limit = RateLimiter.Limit(
            ratePerSecond: workspace.settings.tokenMintRatePerSecond, burst: workspace.settings.tokenMintBurst)
        if case .limited(let retryAfter) = mintLimiter.acquire(key, limit: limit) {
            metrics.rateLimited("token_mint")
            logger.notice(
                "token minting rate-limited",
                metadata: ["parley.credential_id": "\(credential.id)", "parley.workspace_id": "\(workspace.id)"])
            throw ParleyError.rateLimited(retryAfter: retryAfter)
        }
    }
}
