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
        var messages: [[String: Any]] = []
        if !request.systemPrompt.isEmpty { messages.append(["role": "system", "content": request.systemPrompt]) }
        messages += request.messages.map { ["role": $0.role.rawValue, "content": $0.content] }
        var body: [String: Any] = [
            "model": request.model,
            "messages": messages,
            "stream": true,
            "stream_options": ["include_usage": true],
            "max_tokens": request.maxOutputTokens,
            "user": request.endUser,
        ]
        if let temperature = request.temperature { body["temperature"] = temperature }
        return Array(try JSONSerialization.data(withJSONObject: body))
    }

    func makeParser() -> Parser { Parser() }

    struct Parser: ProviderStreamParser {
        private(set) var isComplete = false
        private var announcedModel = false

        mutating func parse(_ event: ServerSentEvent) throws(ProviderFailure) -> [ProviderEvent] {
            if event.data == "[DONE]" {
                isComplete = true
                return []
            }
            guard let chunk = LooseJSON.object(event.data) else {
                throw .upstream("The provider sent a chunk that is not JSON.")
            }
            if chunk["error"] != nil {
                throw .upstream("The provider reported an error mid-stream.")
            }
            var events: [ProviderEvent] = []
            if !announcedModel, let model = chunk["model"] as? String {
                announcedModel = true
                events.append(.model(model))
            }
            if let choices = chunk["choices"] as? [[String: Any]], let choice = choices.first {
                if let delta = choice["delta"] as? [String: Any], let content = delta["content"] as? String, !content.isEmpty {
                    events.append(.delta(content))
                }
                if let reason = choice["finish_reason"] as? String {
                    events.append(.finish(reason: reason))
                }
            } else if chunk["choices"] == nil, chunk["usage"] == nil {
                throw .upstream("The provider sent a chunk without choices.")
            }
            if let usage = chunk["usage"] as? [String: Any] {
                events.append(.usage(TokenUsage(
                    inputTokens: usage["prompt_tokens"] as? Int ?? 0, outputTokens: usage["completion_tokens"] as? Int ?? 0)))
            }
            return events
        }
    }
}
