import Foundation
import Synchronization

/// Token buckets keyed by caller (an API key's id), each with its own rate and burst.
///
/// A bucket starts full (`burst` requests at once), refills at `ratePerSecond`, and a request
/// that finds it empty is told how long until the next token. The table lives in memory: limits
/// are per instance, which is what one SQLite-backed instance needs. Idle, full buckets are
/// dropped when the table grows past `maxBuckets`, so a stream of distinct keys cannot grow it
/// without bound.
final class RateLimiter: Sendable {
    struct Limit: Sendable, Equatable {
        var ratePerSecond: Double
        var burst: Int
    }

    /// The answer to one request.
    enum Decision: Equatable {
        case allowed
        /// Whole seconds until a token is available (at least 1), for `Retry-After`.
        case limited(retryAfter: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updatedAt: Date
    }

    private let clock: WallClock
    private let maxBuckets: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    init(clock: WallClock, maxBuckets: Int = 10_000) {
        self.clock = clock
        self.maxBuckets = maxBuckets
    }

    /// Takes one token from `key`'s bucket if it has one.
    func acquire(_ key: String, limit: Limit) -> Decision {
        let now = clock.now
        let capacity = Double(max(1, limit.burst))
        let rate = max(limit.ratePerSecond, 0.001)
        return buckets.withLock { table in
            var bucket = table[key] ?? Bucket(tokens: capacity, updatedAt: now)
            let elapsed = max(0, now.timeIntervalSince(bucket.updatedAt))
            bucket.tokens = min(capacity, bucket.tokens + elapsed * rate)
            bucket.updatedAt = now
            let decision: Decision
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                decision = .allowed
            } else {
                decision = .limited(retryAfter: max(1, Int(((1 - bucket.tokens) / rate).rounded(.up))))
            }
            table[key] = bucket
            if table.count > maxBuckets {
                table = table.filter { _, bucket in
                    bucket.tokens + now.timeIntervalSince(bucket.updatedAt) * rate < capacity
                }
            }
            return decision
        }
    }

    /// Puts back a token taken by `acquire` for a request that turned out not to count (a repeat,
    /// say). The bucket never holds more than its burst.
    func giveBack(_ key: String, limit: Limit) {
        buckets.withLock { table in
            guard var bucket = table[key] else { return }
            bucket.tokens = min(Double(max(1, limit.burst)), bucket.tokens + 1)
            table[key] = bucket
        }
    }
}
