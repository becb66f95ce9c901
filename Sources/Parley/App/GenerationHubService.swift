import Logging
import ServiceLifecycle

/// Lets replies in flight finish when the server is asked to stop.
///
/// On SIGTERM the HTTP server stops first (streams end; clients may resume elsewhere); then this
/// service gives running replies up to `drainDeadline` to finish and be stored, and stops the rest
/// as `interrupted`, before the libcurl reactor goes away.
struct GenerationHubService: Service {
    let hub: GenerationHub
    let drainDeadline: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let active = await hub.activeReplies
        guard active > 0 else { return }
        logger.notice("waiting for running replies to finish", metadata: ["parley.replies": "\(active)", "parley.deadline_s": "\(drainDeadline.components.seconds)"])
        let stopped = await hub.drain(deadline: drainDeadline)
        if stopped > 0 {
            logger.warning("replies still running at the deadline were interrupted", metadata: ["parley.replies": "\(stopped)"])
        }
    }
}
