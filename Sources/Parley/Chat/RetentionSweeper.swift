import Foundation
import Logging
import ServiceLifecycle

/// Deletes conversations older than their workspace's `retention_days`.
///
/// It works in batches of `batchSize` with a pause between them, so each write transaction stays
/// short and replies being stored are never held up for long.
struct RetentionSweeper: Sendable {
    let workspaces: any WorkspaceStore
    let chat: any ChatStore
    let clock: WallClock
    let logger: Logger
    var batchSize = 200
    var pause: Duration = .milliseconds(50)

    /// One pass over every workspace; returns how many conversations were deleted.
    @discardableResult
    func sweep() async throws -> Int {
        var deleted = 0
        var cursor: String?
        repeat {
            let page = try await workspaces.list(ids: nil, limit: 100, cursor: cursor)
            for workspace in page.items {
                guard let days = workspace.settings.retentionDays else { continue }
                let cutoff = clock.nowMilliseconds - Int64(days) * 86_400_000
                var batch: Int
                repeat {
                    batch = try await chat.deleteConversations(workspaceID: workspace.id, updatedBefore: cutoff, limit: batchSize)
                    deleted += batch
                    if batch == batchSize { try await Task.sleep(for: pause) }
                } while batch == batchSize
            }
            cursor = page.nextCursor
        } while cursor != nil
        if deleted > 0 { logger.info("retention removed old conversations", metadata: ["parley.conversations": "\(deleted)"]) }
        return deleted
    }
}

/// Runs the sweeper every `interval` until graceful shutdown.
struct RetentionService: Service {
    let sweeper: RetentionSweeper
    let interval: Duration

    func run() async throws {
        await repeatUntilShutdown(every: interval, logger: sweeper.logger, failure: "retention sweep failed; will retry") {
            try await sweeper.sweep()
        }
    }
}
