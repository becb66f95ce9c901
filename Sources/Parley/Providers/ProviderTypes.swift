import Foundation

/// What a reply asks of a provider, in provider-neutral terms.
struct ProviderRequest: Sendable {
    struct Message: Sendable, Equatable {
        enum Role: String, Sendable { case user, assistant }
        var role: Role
        var content: String
    }

    var kind: ProviderKind
    /// The API root, e.g. `https://api.openai.com/v1`.
    var baseURL: String
    var apiKey: String?
    var model: String
    var systemPrompt: String
    var messages: [Message]
    var temperature: Double?
    var maxOutputTokens: Int
    /// A stable pseudonym of the end user (a hash): providers use it for abuse monitoring, and
    /// it never reveals the customer's user id.
    var endUser: String
}

struct TokenUsage: Sendable, Equatable, Codable {
    var inputTokens: Int
    var outputTokens: Int

    enum CodingKeys: String, CodingKey {
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
    }
}

/// What a provider's stream says, in provider-neutral terms.
enum ProviderEvent: Sendable, Equatable {
    /// The model that answers (as the provider names it).
    case model(String)
    case delta(String)
    case usage(TokenUsage)
    /// The provider said why it stopped (`stop`, `length`, `end_turn`, …).
    case finish(reason: String)

    /// `events` with each run of consecutive deltas joined into one; order otherwise kept.
    static func mergingAdjacentDeltas(_ events: [ProviderEvent]) -> [ProviderEvent] {
        var merged: [ProviderEvent] = []
        merged.reserveCapacity(events.count)
        for event in events {
            if case .delta(let text) = event, case .delta(let previous)? = merged.last {
                merged[merged.count - 1] = .delta(previous + text)
            } else {
                merged.append(event)
            }
        }
        return merged
    }
}

/// Why a reply could not be (fully) generated, with the contract's mid-stream code.
///
/// `message` is ours, safe to show: a provider's own error text is never relayed, because it can
/// quote the API key.
struct ProviderFailure: Error, Sendable, Equatable {
    enum Code: String, Sendable {
        case upstreamError = "upstream_error"
        case upstreamTimeout = "upstream_timeout"
        case upstreamRateLimited = "upstream_rate_limited"
        case providerAuthFailed = "provider_auth_failed"
        case contextTooLong = "context_too_long"
        case interrupted
    }

    var code: Code
    var message: String
    /// Whether trying again may help (before anything reached the client).
    var retryable: Bool = false
    /// The provider's `Retry-After`, for 429.
    var retryAfter: Duration?
    /// What went wrong, for the operator's log only (never sent to a client): the step that
    /// failed (DNS, connect, TLS, a timeout and which one) or the HTTP status with the provider's
    /// error type.
    var cause: String?

    static func upstream(_ message: String, retryable: Bool = false, cause: String? = nil) -> Self {
        .init(code: .upstreamError, message: message, retryable: retryable, cause: cause)
    }
}

/// Turns a provider's stream of SSE events into `ProviderEvent`s. One per provider kind.
protocol ProviderStreamParser {
    /// - Returns: the events `event` carries; throws `ProviderFailure` for an error event or a
    ///   chunk that is not what the provider's format promises.
    mutating func parse(_ event: ServerSentEvent) throws(ProviderFailure) -> [ProviderEvent]
    /// The stream said it is complete (`[DONE]`, `message_stop`).
    var isComplete: Bool { get }
}

/// The HTTP side of a provider kind: the request to send and the parser for its answer.
protocol ProviderAdapter: Sendable {
    associatedtype Parser: ProviderStreamParser
    func endpoint(baseURL: String) -> String
    func headers(apiKey: String?) -> [(name: String, value: String)]
    func body(for request: ProviderRequest) throws -> [UInt8]
    func makeParser() -> Parser
    /// The events of a whole (non-streamed) answer, for a provider that answers the streaming
    /// request with `application/json`: its text as one delta, then its usage and finish.
    func wholeReply(_ body: [UInt8]) throws(ProviderFailure) -> [ProviderEvent]
}

extension ProviderKind {
    var adapter: any ProviderAdapter {
        switch self {
        case .openai: OpenAIAdapter()
        case .anthropic: AnthropicAdapter()
        }
    }
}
