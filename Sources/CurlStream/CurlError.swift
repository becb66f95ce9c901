/// Why a transfer did not deliver a whole response.
public enum CurlError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection within the connect timeout.
    case connectTimeout
    /// Connected, but no response byte within the first-byte timeout.
    case firstByteTimeout
    /// The response stalled longer than the idle timeout between bytes.
    case idleTimeout
    /// The whole transfer ran past its total timeout.
    case totalTimeout
    /// DNS, TCP, TLS or protocol failure, with libcurl's code and message.
    case transport(code: Int, message: String)
    /// The consumer went away or cancelled; the transfer was removed.
    case cancelled
    /// The client was shut down.
    case shutdown

    public var description: String {
        switch self {
        case .connectTimeout: "connect timeout"
        case .firstByteTimeout: "no response in time (first byte)"
        case .idleTimeout: "response stalled (idle timeout)"
        case .totalTimeout: "transfer took too long (total timeout)"
        case .transport(let code, let message): "transport error \(code): \(message)"
        case .cancelled: "cancelled"
        case .shutdown: "client shut down"
        }
    }
}
