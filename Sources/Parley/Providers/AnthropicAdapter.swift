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
        let body = Body(
            model: request.model, messages: turns.map { Body.Message(role: $0.role.rawValue, content: $0.content) },
            maxTokens: request.maxOutputTokens, metadata: .init(userID: request.endUser),
            system: request.systemPrompt.isEmpty ? nil : request.systemPrompt,
            temperature: request.temperature.map { min($0, 1) })
        return Array(try JSONBody.encoder.encode(body))
    }

    /// A streaming Messages API request; the end user goes in `metadata.user_id`.
    struct Body: Encodable {
        struct Message: Encodable {
            var role: String
            var content: String
        }

        struct Metadata: Encodable {
            var userID: String

            enum CodingKeys: String, CodingKey { case userID = "user_id" }
        }

        var model: String
        var messages: [Message]
        var maxTokens: Int
        var stream = true
        var metadata: Metadata
        var system: String?
        var temperature: Double?

        enum CodingKeys: String, CodingKey {
            case model, messages, stream, metadata, system, temperature
            case maxTokens = "max_tokens"
        }
    }

    func makeParser() -> Parser { Parser() }

    func wholeReply(_ body: [UInt8]) throws(ProviderFailure) -> [ProviderEvent] {
        guard let reply = try? Self.decoder.decode(WholeReply.self, from: Data(body)), reply.type != "error", let blocks = reply.content else {
            throw .upstream("The provider answered with an error instead of a stream.")
        }
        var events: [ProviderEvent] = reply.model.map { [.model($0)] } ?? []
        let text = blocks.compactMap { $0.type == "text" ? $0.text : nil }.joined()
        if !text.isEmpty { events.append(.delta(text)) }
        if let usage = reply.usage {
            events.append(.usage(TokenUsage(inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0)))
        }
        events.append(.finish(reason: reply.stopReason ?? "end_turn"))
        return events
    }

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    struct Usage: Decodable {
        var inputTokens: Int?
        var outputTokens: Int?
    }

    /// The parts of a stream event Parley reads; anything else in it is ignored.
    struct Event: Decodable {
        struct Message: Decodable {
            var model: String?
            var usage: Usage?
        }

        struct Delta: Decodable {
            var text: String?
            var stopReason: String?
        }

        struct Failure: Decodable {
            var type: String?
        }

        var type: String?
        var message: Message?
        var delta: Delta?
        var usage: Usage?
        var error: Failure?
    }

    /// A whole `messages` answer, for a provider that does not stream.
    struct WholeReply: Decodable {
        struct Block: Decodable {
            var type: String?
            var text: String?
        }

        var type: String?
        var model: String?
        var content: [Block]?
        var stopReason: String?
        var usage: Usage?
    }

    struct Parser: ProviderStreamParser {
        private(set) var isComplete = false
        /// Usage as last reported: `message_start` has it, and some compatible servers send
        /// (or correct) it in `message_delta` instead; the last figure of each kind wins.
        private var inputTokens = 0
        private var outputTokens = 0

        private mutating func note(_ usage: Usage?) {
            if let input = usage?.inputTokens { inputTokens = input }
            if let output = usage?.outputTokens { outputTokens = output }
        }

        mutating func parse(_ event: ServerSentEvent) throws(ProviderFailure) -> [ProviderEvent] {
            guard let object = try? AnthropicAdapter.decoder.decode(Event.self, from: Data(event.data.utf8)) else {
                throw .upstream("The provider sent a chunk that is not JSON.")
            }
            switch event.event ?? object.type ?? "" {
            case "message_start":
                note(object.message?.usage)
                return object.message?.model.map { [.model($0)] } ?? []
            case "content_block_delta":
                guard let delta = object.delta else { throw .upstream("The provider sent a malformed delta.") }
                if let text = delta.text, !text.isEmpty { return [.delta(text)] }
                return []
            case "message_delta":
                var events: [ProviderEvent] = []
                if let reason = object.delta?.stopReason { events.append(.finish(reason: reason)) }
                if let usage = object.usage {
                    note(usage)
                    events.append(.usage(TokenUsage(inputTokens: inputTokens, outputTokens: outputTokens)))
                }
                return events
            case "message_stop":
                isComplete = true
                return []
            case "error":
                if object.error?.type == "overloaded_error" || object.error?.type == "rate_limit_error" {
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
