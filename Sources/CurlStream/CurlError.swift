import CCurl

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

    /// Which step failed, in an operator's words ("DNS resolution", "TCP connect", "TLS", …),
    /// followed by libcurl's own message: what a log line needs to point at DNS, a firewall or a
    /// certificate rather than at the provider.
    public var cause: String {
        switch self {
        case .transport(let code, let message):
            "\(Self.step(ofCurlCode: code)) failed (curl \(code): \(message))"
        default:
            description
        }
    }

    private static func step(ofCurlCode code: Int) -> String {
        switch CURLcode(rawValue: UInt32(clamping: max(code, 0))) {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: "DNS resolution"
        case CURLE_COULDNT_CONNECT: "TCP connect"
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS,
            CURLE_SSL_CLIENTCERT:
            "TLS"
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE: "the connection"
        case CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM: "the HTTP exchange"
        default: "the transfer"
        }
    }

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
