import Foundation

/// The current time, passed in so tests can move it (token expiry, TTL bounds, rate limits)
/// without sleeping.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date) {
        self.read = read
    }

    public static let system = WallClock { Date() }

    public var now: Date { read() }
    /// Milliseconds since the Unix epoch, the unit every timestamp column uses.
    public var nowMilliseconds: Int64 { now.millisecondsSince1970 }
}

extension Date {
    var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    init(milliseconds: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
    }
}

extension Duration {
    /// Whole milliseconds, for logs and timestamps.
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
