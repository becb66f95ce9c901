import Foundation

/// Anthropic's messages API (`POST {base}/messages`, `stream: true`).
struct AnthropicAdapter: ProviderAdapter {
    static let apiVersion = "2023-06-01"

    func endpoint(baseURL: String) -> String { baseURL + "/messages" }

    func headers(apiKey: String?) -> [(name: String, value: String)] {
        var headers = [
            (name: "Content-Type", value: "application/json"), (name: "Accept", value: "text/event-stream"),
            (name: "anthropic-version", value: Self.apiVersion),
        ]
        if let apiKey { headers.append((name: "x-api-key", value: apiKey)) }
        return headers
    }

    func body(for request: ProviderRequest) throws -> [UInt8] {
        // The API wants strictly alternating turns that start with the user: merge neighbours of
        // one role and drop a leading assistant turn.
        var turns: [ProviderRequest.Message] = []
        for message in request.messages {
            if let last = turns.last, last.role == message.role {
                turns[turns.count - 1].content += "\n\n" + message.content
            } else {
                turns.append(message)
            }
        }
        if turns.first?.role == .assistant { turns.removeFirst() }
        var body = JSONObjectWriter()
        body.field("model", request.model)
        body.field("messages", objects: turns) { object, turn in
            object.field("role", turn.role.rawValue)
            object.field("content", turn.content)
        }
        body.field("max_tokens", request.maxOutputTokens)
        body.field("stream", true)
        body.field("metadata") { $0.field("user_id", request.endUser) }
        if !request.systemPrompt.isEmpty { body.field("system", request.systemPrompt) }
        if let temperature = request.temperature { body.field("temperature", min(temperature, 1)) }
        return body.bytes()
    }

    func makeParser() -> Parser { Parser() }

    func wholeReply(_ object: [String: Any]) throws(ProviderFailure) -> [ProviderEvent] {
        guard object["type"] as? String != "error", let blocks = object["content"] as? [[String: Any]] else {
            throw .upstream("The provider answered with an error instead of a stream.")
        }
        var events: [ProviderEvent] = (object["model"] as? String).map { [.model($0)] } ?? []
        let text = blocks.compactMap { $0["type"] as? String == "text" ? $0["text"] as? String : nil }.joined()
        if !text.isEmpty { events.append(.delta(text)) }
        if let usage = object["usage"] as? [String: Any] {
            events.append(.usage(TokenUsage(inputTokens: usage["input_tokens"] as? Int ?? 0, outputTokens: usage["output_tokens"] as? Int ?? 0)))
        }
        events.append(.finish(reason: object["stop_reason"] as? String ?? "end_turn"))
        return events
    }

    struct Parser: ProviderStreamParser {
        private(set) var isComplete = false
        /// Usage as last reported: `message_start` has it, and some compatible servers send
        /// (or correct) it in `message_delta` instead; the last figure of each kind wins.
        private var inputTokens = 0
        private var outputTokens = 0

        private mutating func note(usage: [String: Any]?) {
            if let input = usage?["input_tokens"] as? Int { inputTokens = input }
            if let output = usage?["output_tokens"] as? Int { outputTokens = output }
        }

        mutating func parse(_ event: ServerSentEvent) throws(ProviderFailure) -> [ProviderEvent] {
            guard let object = LooseJSON.object(event.data) else {
                throw .upstream("The provider sent a chunk that is not JSON.")
            }
            let type = event.event ?? object["type"] as? String ?? ""
            switch type {
            case "message_start":
                let message = object["message"] as? [String: Any]
                note(usage: message?["usage"] as? [String: Any])
                return (message?["model"] as? String).map { [.model($0)] } ?? []
            case "content_block_delta":
                guard let delta = object["delta"] as? [String: Any] else { throw .upstream("The provider sent a malformed delta.") }
                if let text = delta["text"] as? String, !text.isEmpty { return [.delta(text)] }
                return []
            case "message_delta":
                var events: [ProviderEvent] = []
                if let reason = (object["delta"] as? [String: Any])?["stop_reason"] as? String {
                    events.append(.finish(reason: reason))
                }
                if let usage = object["usage"] as? [String: Any] {
                    note(usage: usage)
                    events.append(.usage(TokenUsage(inputTokens: inputTokens, outputTokens: outputTokens)))
                }
                return events
            case "message_stop":
                isComplete = true
                return []
            case "error":
                let kind = (object["error"] as? [String: Any])?["type"] as? String
                if kind == "overloaded_error" || kind == "rate_limit_error" {
                    throw ProviderFailure(code: .upstreamRateLimited, message: "The provider is overloaded.")
                }
                throw .upstream("The provider reported an error mid-stream.")
            default:
                // content_block_start/stop, ping and future event types carry nothing we need.
                return []
            }
        }
    }
}
