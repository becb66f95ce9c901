import Foundation

/// The deadlines and the cap that keep slow, idle or too many clients from holding the server's
/// connections, while a streaming response runs as long as it needs.
///
/// - A new connection must deliver its first request head within `headTimeout`.
/// - A kept-alive connection with nothing in progress is closed after `idleTimeout`; its next
///   request head must have arrived by then.
/// - A request's body must have arrived `bodyTimeout` after its head.
/// - While a response is being written there is no deadline: a reply's stream is bounded by the
///   reply, its pings and its token checks, not by these.
/// - At most `maxConnections` are open; further clients wait in the listen backlog.
public struct ConnectionLimits: Sendable, Equatable {
    public var headTimeout: Duration = .seconds(10)
    /// `PARLEY_IDLE_TIMEOUT_SECONDS`.
    public var idleTimeout: Duration = .seconds(60)
    public var bodyTimeout: Duration = .seconds(30)
    /// `PARLEY_MAX_CONNECTIONS`; `nil` works it out from the descriptor limit at start.
    public var maxConnections: Int?

    public init() {}

    /// The cap for a process allowed `descriptors` open files: a streaming reply holds two (the
    /// client's connection and the provider's), and some are kept for the database, logs and
    /// the listening socket.
    static func connectionCap(forDescriptors descriptors: Int) -> Int {
        max(16, (descriptors - 128) / 2)
    }
}

/// The process's open-file limit.
enum DescriptorLimit {
    /// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the limit now in force.
    static func raiseToHard() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return min(Int(clamping: limit.rlim_cur), 1 << 20)
    }
}
