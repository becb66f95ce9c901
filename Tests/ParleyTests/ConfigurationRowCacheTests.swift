import Foundation
import GRDB
import Logging
import NIOCore
import Synchronization
import Testing

@testable import Parley

/// The workspace and bot rows kept in memory: never older than this process's own last write.
@Suite struct ConfigurationRowCacheTests {
    static func workspace(_ name: String) -> WorkspaceRecord {
        WorkspaceRecord(
            id: "ws_cache", name: name, allowedOrigins: [], settings: WorkspaceSettings(), defaultBotId: nil, viewSecretSealed: Data(),
            createdAt: 0, updatedAt: 0)
    }

    @Test func aRowIsLoadedOnceThenServedFromMemoryUntilAWrite() async throws {
        let cache = ConfigurationRowCache(freshness: .seconds(3600))
        let loads = Mutex(0)
        func load() async throws -> WorkspaceRecord? {
            loads.withLock { $0 += 1 }
            return Self.workspace("v\(loads.withLock { $0 })")
        }
        #expect(try await cache.workspace("ws_cache", load: load)?.name == "v1")
        #expect(try await cache.workspace("ws_cache", load: load)?.name == "v1")
        #expect(loads.withLock { $0 } == 1)
        cache.invalidateAll()
        #expect(try await cache.workspace("ws_cache", load: load)?.name == "v2")
        // A missing row is not remembered: it may be created at any moment.
        #expect(try await cache.workspace("ws_missing") { nil } == nil)
        #expect(try await cache.workspace("ws_missing") { Self.workspace("created") }?.name == "created")
    }

    @Test func aLoadOverlappingAWriteIsNotKept() async throws {
        let cache = ConfigurationRowCache(freshness: .seconds(3600))
        // The write (and its invalidation) lands while the first load is still reading.
        let stale = try await cache.workspace("ws_cache") {
            cache.invalidateAll()
            return Self.workspace("before the write")
        }
        #expect(stale?.name == "before the write")
        #expect(try await cache.workspace("ws_cache") { Self.workspace("after the write") }?.name == "after the write")
    }

    /// A chat request checks its token's row and its workspace's: missing from memory, they come
    /// from one load; in memory, from none. Each kind is still kept (or not) on its own rules.
    @Test func aTokenAndItsWorkspaceAreLoadedTogether() async throws {
        let cache = ConfigurationRowCache(freshness: .seconds(3600))
        let token = EmbedTokenRecord(
            jti: "jti_1", workspaceId: "ws_cache", userId: "u-1", botId: "bot_1", kid: "k1", apiKeyId: nil, issuedAt: 0, expiresAt: 1,
            revokedAt: nil)
        let loads = Mutex(0)
        func load() async throws -> (EmbedTokenRecord?, WorkspaceRecord?) {
            loads.withLock { $0 += 1 }
            return (token, Self.workspace("v\(loads.withLock { $0 })"))
        }
        var (found, workspace) = try await cache.token(jti: "jti_1", workspaceID: "ws_cache", load: load)
        #expect(found == token && workspace?.name == "v1")
        (found, workspace) = try await cache.token(jti: "jti_1", workspaceID: "ws_cache", load: load)
        #expect(found == token && workspace?.name == "v1")
        #expect(loads.withLock { $0 } == 1, "the second check read nothing")
        #expect(try await cache.workspace("ws_cache") { Self.workspace("not read") }?.name == "v1", "the workspace was kept as a workspace")

        cache.invalidateAll()
        (found, workspace) = try await cache.token(jti: "jti_1", workspaceID: "ws_cache") {
            cache.invalidateAll()  // a write lands while this load reads
            return (token, Self.workspace("before the write"))
        }
        #expect(workspace?.name == "before the write")
        var revoked = token
        revoked.revokedAt = 1
        #expect(try await cache.token(jti: "jti_1") { revoked } == revoked, "the token the overlapped load read was not kept")
        #expect(try await cache.workspace("ws_cache") { Self.workspace("after the write") }?.name == "after the write")
    }
}
