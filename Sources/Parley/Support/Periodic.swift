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
    await repeatUntilShutdown(afterFailure: interval, logger: logger, level: level, failure: failure) {
        try await round()
        return interval
    }
}

/// Runs `round` now and again until graceful shutdown (or cancellation), pausing after each for
/// the time it returns: for upkeep whose pace follows what it finds. After a round that throws
/// (logged as above) the pause is `afterFailure`.
func repeatUntilShutdown(
    afterFailure retry: Duration, logger: Logger, level: Logger.Level = .error, failure: Logger.Message,
    pacedBy round: @escaping @Sendable () async throws -> Duration
) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            var pause = retry
            do {
                pause = try await round()
            } catch is CancellationError {
                return
            } catch {
                logger.log(level: level, failure, metadata: ["parley.error": "\(error)"])
            }
            try? await Task.sleep(for: pause)
        }
    }
}
