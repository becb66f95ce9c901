/// One user's messages per minute (the workspace's `messages_per_minute`), handed to the hub with
/// each post.
///
/// The hub decides when a post counts: only a stored message does. A repeat of an earlier post, or
/// a post refused (not found, a reply already streaming, the workspace's limits), costs nothing;
/// a post can only be known to be one of those after the storage has answered, so the hub may
/// spend first and give back after.
struct MessageAllowance: Sendable {
    let limiter: RateLimiter
    let key: String
    let limit: RateLimiter.Limit
    let metrics: ParleyMetrics?

    /// Spends one message if one is left; says nothing to anyone when none is.
    func trySpend() -> Bool {
        limiter.acquire(key, limit: limit) == .allowed
    }

    /// Spends one message.
    ///
    /// - Throws: 429 `rate_limited` with `Retry-After` when none is left.
    func spend() throws {
        if case .limited(let retryAfter) = limiter.acquire(key, limit: limit) {
            metrics?.rateLimited("messages_per_minute")
            throw ParleyError.rateLimited(retryAfter: retryAfter)
        }
    }

    /// Returns a message spent on a post that stored nothing.
    func giveBack() {
        limiter.giveBack(key, limit: limit)
    }
}
