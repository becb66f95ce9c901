import Logging
import ServiceLifecycle

/// Runs `round` now and then every `interval` until graceful shutdown (or cancellation).
///
/// Background upkeep must neither stop the server nor stop for good after one bad round: a round
/// that throws is logged at `level` as `failure`, with the error, and the next one runs on time.
func repeatUntilShutdown(
    every interval: Duration, logger: Logger, level: Logger.Level = .error, failure: Logger.Message,
    _ round: @escaping @Sendable () async throws -> Void
) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do {
                try await round()
            } catch is CancellationError {
                return
            } catch {
                logger.log(level: level, failure, metadata: ["parley.error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
