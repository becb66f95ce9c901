import HummingbirdCore
import Logging

/// Hummingbird's connection cap, with a log line when it is reached and when it lifts.
struct LoggedConnectionCap: AvailableConnectionsDelegate {
    let maxConnections: Int
    let logger: Logger
    private var open = 0

    init(maxConnections: Int, logger: Logger) {
        self.maxConnections = maxConnections
        self.logger = logger
    }

    mutating func connectionOpened() {
        open += 1
        if open == maxConnections {
            logger.warning(
                "connection cap reached; new connections wait until one closes",
                metadata: ["parley.max_connections": "\(maxConnections)"])
        }
    }

    mutating func connectionClosed() {
        if open == maxConnections { logger.notice("below the connection cap again; accepting connections") }
        open -= 1
    }

    func isAcceptingNewConnections() -> Bool {
        open < maxConnections
    }
}
