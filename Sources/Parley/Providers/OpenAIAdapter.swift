import Foundation

/// OpenAI's chat completions API (`POST {base}/chat/completions`, `stream: true`), which most
/// self-hosted servers (Ollama, vLLM, llama.cpp) speak as well.
struct OpenAIAdapter: ProviderAdapter {
    func endpoint(baseURL: String) -> String { baseURL + "/chat/completions" }

    func headers(apiKey: String?) -> [(name: String, value: String)] {
        var headers = [(name: "Content-Type", value: "application/json"), (name: "Accept", value: "text/event-stream")]
        if let apiKey { headers.append((name: "Authorization", value: "Bearer \(apiKey)")) }
        return headers
    }

    func body(for request: ProviderRequest) throws -> [UInt8] {
        let system = request.systemPrompt.isEmpty ? [] : [Body.Message(role: "system", content: request.systemPrompt)]
        let body = Body(
            model: request.model,
            messages: system + request.messages.map { Body.Message(role: $0.role.rawValue, content: $0.content) },
            maxTokens: request.maxOutputTokens, user: request.endUser, temperature: request.temperature)
        return Array(try JSONBody.encoder.encode(body))
    }

    /// A streaming chat completions request, asking for usage in the last chunk.
    struct Body: Encodable {
        struct Message: Encodable {
            var role: String
            var content: String
        }

        struct StreamOptions: Encodable {
            var includeUsage = true

            enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
        }

        var model: String
        var messages: [Message]
        var stream = true
        var streamOptions = StreamOptions()
        var maxTokens: Int
        var user: String
        var temperature: Double?

        enum CodingKeys: String, CodingKey {
            case model, messages, stream, user, temperature
            case streamOptions = "stream_options"
            case maxTokens = "max_tokens"
        }
    }

    func makeParser() -> Parser { Parser() }

    func wholeReply(_ body: [UInt8]) throws(ProviderFailure) -> [ProviderEvent] {
        guard let reply = try? JSONDecoder().decode(WholeReply.self, from: Data(body)), !reply.hasError, let choice = reply.choices?.first
        else { throw .upstream("The provider answered with an error instead of a stream.") }
        var events: [ProviderEvent] = reply.model.map { [.model($0)] } ?? []
        if let text = choice.message?.content, !text.isEmpty { events.append(.delta(text)) }
        if let usage = reply.usage {
            events.append(.usage(TokenUsage(inputTokens: usage.promptTokens ?? 0, outputTokens: usage.completionTokens ?? 0)))
        }
        events.append(.finish(reason: choice.finishReason ?? "stop"))
        return events
    }

    /// A whole `chat.completion`, for a provider that does not stream.
    struct WholeReply: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { var content: String? }
            var message: Message?
            var finishReason: String?

            enum CodingKeys: String, CodingKey {
                case message
                case finishReason = "finish_reason"
            }
        }

        var model: String?
        var choices: [Choice]?
        var usage: Chunk.Usage?
        var hasError: Bool

        enum CodingKeys: String, CodingKey {
            case model, choices, usage, error
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            model = try? container.decodeIfPresent(String.self, forKey: .model)
            choices = try container.decodeIfPresent([Choice].self, forKey: .choices)
            usage = try? container.decodeIfPresent(Chunk.Usage.self, forKey: .usage)
            hasError = container.contains(.error)
        }
    }

    struct Parser: ProviderStreamParser {
        private(set) var isComplete = false
        private var announcedModel = false

        mutating func parse(_ event: ServerSentEvent) throws(ProviderFailure) -> [ProviderEvent] {
            if event.data == "[DONE]" {
                isComplete = true
                return []
            }
            guard let chunk = Chunk.read(event.data) else {
                throw .upstream("The provider sent a chunk that is not a chat-completion chunk.")
            }
            if chunk.hasError {
                throw .upstream("The provider reported an error mid-stream.")
            }
            var events: [ProviderEvent] = []
            if !announcedModel, let model = chunk.model {
                announcedModel = true
                events.append(.model(model))
            }
            if let choice = chunk.choices?.first {
                if let content = choice.delta?.content, !content.isEmpty {
                    events.append(.delta(content))
                }
                if let reason = choice.finishReason {
                    events.append(.finish(reason: reason))
                }
            } else if chunk.choices == nil, chunk.usage == nil {
                throw .upstream("The provider sent a chunk without choices.")
            }
            if let usage = chunk.usage {
                events.append(.usage(TokenUsage(inputTokens: usage.promptTokens ?? 0, outputTokens: usage.completionTokens ?? 0)))
            }
            return events
        }
    }

    /// The parts of a `chat.completion.chunk` Parley reads; anything else in it is ignored.
    struct Chunk: Equatable {
        struct Choice: Decodable, Equatable {
            struct Delta: Decodable, Equatable { var content: String? }
            var delta: Delta?
            var finishReason: String?

            enum CodingKeys: String, CodingKey {
                case delta
                case finishReason = "finish_reason"
            }
        }

        struct Usage: Decodable, Equatable {
            var promptTokens: Int?
            var completionTokens: Int?

            enum CodingKeys: String, CodingKey {
                case promptTokens = "prompt_tokens"
                case completionTokens = "completion_tokens"
            }
        }

        var model: String?
        var choices: [Choice]?
        var usage: Usage?
        /// An `error` member of any value, null included, as some gateways send mid-stream.
        var hasError: Bool

        /// The chunk `text` holds, or `nil` when it is not one. The scanner reads the usual
        /// shapes; `JSONDecoder` has the last word on the rest.
        static func read(_ text: String) -> Chunk? {
            OpenAIChunkScanner.scan(text) ?? decoded(text)
        }

        static func decoded(_ text: String) -> Chunk? {
            try? decoder.decode(Chunk.self, from: Data(text.utf8))
        }

        private static let decoder = JSONDecoder()
    }
}

extension OpenAIAdapter.Chunk: Decodable {
    private enum CodingKeys: String, CodingKey {
        case model, choices, usage, error
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try? container.decodeIfPresent(String.self, forKey: .model)
        choices = try container.decodeIfPresent([Choice].self, forKey: .choices)
        usage = try? container.decodeIfPresent(Usage.self, forKey: .usage)
        hasError = container.contains(.error)
    }
}
