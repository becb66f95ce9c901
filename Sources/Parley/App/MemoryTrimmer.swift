#if canImport(Glibc)
import CMalloc
#endif
import Logging
import ServiceLifecycle
import Synchronization

/// Gives the memory of a busy spell back to the system once it is over.
///
/// glibc's allocator keeps what a burst of streams freed for reuse, so the resident size stays at
/// the peak long after the streams and their retained events are gone; `malloc_trim` returns it.
/// This runs it once each time the hub goes from holding replies (running, or finished and kept
/// for resumes) to holding none: then there is nothing left to reuse it for soon.
struct MemoryTrimmer: Service {
    let hub: GenerationHub
    var interval: Duration = .seconds(15)
    let logger: Logger

    func run() async throws {
        let state = TrimState()
        await repeatUntilShutdown(every: interval, logger: logger, level: .warning, failure: "trimming memory failed") {
            let holding = await hub.heldReplies
            if state.shouldTrim(holding: holding) { Self.trim(logger: logger) }
        }
    }

    static func trim(logger: Logger) {
        #if canImport(Glibc)
        let released = malloc_trim(0) == 1
        logger.debug("returned freed memory to the system after a busy spell", metadata: ["parley.released": "\(released)"])
        #endif
    }
}

/// Whether a round should trim: once per transition from some held replies to none.
final class TrimState: Sendable {
    private let busySinceTrim = Mutex(false)

    func shouldTrim(holding: Int) -> Bool {
        busySinceTrim.withLock { busy in
            if holding > 0 {
                busy = true
                return false
            }
            defer { busy = false }
            return busy
        }
    }
}
