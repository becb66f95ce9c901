/// When a connection must next show progress, from what it has read and written so far: the
/// rules of `ConnectionLimits` as a pure state machine, driven by `ConnectionDeadlineHandler`.
///
/// Each input returns the deadline now in force (`nil`: none, a response is being written); the
/// handler closes the connection if a deadline passes with no input in between.
struct ConnectionDeadline {
    private let limits: ConnectionLimits
    /// Requests whose head was read and whose response has not ended.
    private var unanswered = 0
    /// When the request being read began, until its end is read.
    private var readingSince: ContinuousClock.Instant?
    /// When the connection last had nothing in progress, and whether it has served a request.
    private var idleSince: ContinuousClock.Instant
    private var servedOne = false

    init(limits: ConnectionLimits, openedAt now: ContinuousClock.Instant) {
        self.limits = limits
        idleSince = now
    }

    /// The deadline that applies now.
    var deadline: ContinuousClock.Instant? {
        if let readingSince { return readingSince + limits.bodyTimeout }
        if unanswered > 0 { return nil }
        return idleSince + (servedOne ? limits.idleTimeout : limits.headTimeout)
    }

    mutating func readHead(at now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        unanswered += 1
        readingSince = now
        return deadline
    }

    mutating func readEnd() -> ContinuousClock.Instant? {
        readingSince = nil
        return deadline
    }

    mutating func wroteResponseEnd(at now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        unanswered = max(0, unanswered - 1)
        servedOne = true
        if unanswered == 0 { idleSince = now }
        return deadline
    }

    /// Why the connection is closed when `deadline` passed, for the log.
    var expiredPhase: String {
        if readingSince != nil { return "request body" }
        return servedOne ? "idle keep-alive" : "request head"
    }
}
