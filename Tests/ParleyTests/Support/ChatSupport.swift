import CurlStream
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TestUpstream

@testable import Parley

/// Scripts for `ScriptedUpstream` that speak like the real providers.
enum FakeProvider {
    static func openAIChunk(_ object: [String: Any]) -> String {
        let data = try! JSONSerialization.data(withJSONObject: object)
        return "data: \(String(decoding: data, as: UTF8.self))\n\n"
    }

    /// An OpenAI chat-completions stream of `deltas`, `pause` apart, ending with usage and `[DONE]`.
    static func openAI(_ deltas: [String], pause: Duration = .zero, finish: String? = "stop", model: String = "gpt-test") -> ScriptedUpstream.Reply {
        var steps: [ScriptedUpstream.Step] = []
        for delta in deltas {
            steps.append(.text(openAIChunk(["id": "c1", "model": model, "choices": [["index": 0, "delta": ["content": delta], "finish_reason": NSNull()]]])))
            if pause > .zero { steps.append(.sleep(pause)) }
        }
        if let finish {
            steps.append(.text(openAIChunk(["id": "c1", "model": model, "choices": [["index": 0, "delta": [:], "finish_reason": finish]]])))
            steps.append(.text(openAIChunk(["id": "c1", "model": model, "choices": [], "usage": ["prompt_tokens": 11, "completion_tokens": deltas.count]])))
            steps.append(.text("data: [DONE]\n\n"))
        }
        return .init(headers: [("Content-Type", "text/event-stream")], steps: steps)
    }

    static func anthropic(_ deltas: [String]) -> ScriptedUpstream.Reply {
        func event(_ name: String, _ object: [String: Any]) -> ScriptedUpstream.Step {
            let data = try! JSONSerialization.data(withJSONObject: object)
            return .text("event: \(name)\ndata: \(String(decoding: data, as: UTF8.self))\n\n")
        }
        var steps = [
            event("message_start", ["type": "message_start", "message": ["model": "claude-test", "usage": ["input_tokens": 21]]]),
            event("content_block_start", ["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]]),
            event("ping", ["type": "ping"]),
        ]
        for delta in deltas {
            steps.append(event("content_block_delta", ["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": delta]]))
        }
        steps += [
            event("content_block_stop", ["type": "content_block_stop", "index": 0]),
            event("message_delta", ["type": "message_delta", "delta": ["stop_reason": "end_turn"], "usage": ["output_tokens": deltas.count]]),
            event("message_stop", ["type": "message_stop"]),
        ]
        return .init(headers: [("Content-Type", "text/event-stream")], steps: steps)
    }
}

/// A reply stream as the browser sees it, read incrementally over a real socket.
struct ReplyStream: Sendable {
    var status: Int
    var events: [ServerSentEvent]
    var comments: Int

    var names: [String] { events.compactMap(\.event) }
    var deltas: String {
        events.filter { $0.event == "response.delta" }.compactMap { json($0)["delta"] as? String }.joined()
    }
    var terminal: ServerSentEvent? { events.last { $0.event == "response.completed" || $0.event == "response.error" } }
    var terminalMessage: [String: Any] { terminal.map { json($0)["message"] as? [String: Any] ?? [:] } ?? [:] }
    var errorCode: String? { terminal.flatMap { (json($0)["error"] as? [String: Any])?["code"] as? String } }
    var messageID: String? { events.first?.id?.split(separator: ":").first.map(String.init) }

    func json(_ event: ServerSentEvent) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any] ?? [:]
    }
}

/// Talks to the live test server with `CurlClient`, so streams can be read as they arrive,
/// abandoned half-way, or resumed.
struct StreamingClient: Sendable {
    let base: String
    let http = CurlClient()

    init(port: Int) {
        base = "http://127.0.0.1:\(port)"
    }

    func open(_ method: String, _ path: String, token: String, json: [String: Any]? = nil, headers: [(name: String, value: String)] = [])
        async throws -> CurlResponse
    {
        var all = headers + [(name: "Authorization", value: "Bearer \(token)")]
        var body: [UInt8]?
        if let json {
            body = Array(try JSONSerialization.data(withJSONObject: json))
            all.append((name: "Content-Type", value: "application/json"))
        }
        return try await http.execute(CurlRequest(url: base + path, method: method, headers: all, body: body))
    }

    /// Reads a stream until its end, or until `stopAfter` events when given.
    func read(_ response: CurlResponse, stopAfter: Int? = nil) async throws -> ReplyStream {
        var decoder = ServerSentEventDecoder()
        var events: [ServerSentEvent] = []
        var comments = 0
        for try await chunk in response.body {
            comments += String(decoding: chunk, as: UTF8.self).components(separatedBy: ": ping").count - 1
            events += try decoder.feed(chunk)
            if let stopAfter, events.count >= stopAfter {
                response.body.cancel()
                break
            }
        }
        return ReplyStream(status: response.status, events: events, comments: comments)
    }

    func post(_ conversation: String, _ content: String, token: String, clientMessageID: String? = nil) async throws -> ReplyStream {
        var body: [String: Any] = ["content": content]
        if let clientMessageID { body["client_message_id"] = clientMessageID }
        return try await read(try await open("POST", "/v1/conversations/\(conversation)/messages", token: token, json: body))
    }
}

/// A tenant whose bot talks to a scripted upstream, and a user with a token.
struct ChatFixture: Sendable {
    let tenant: Tenant
    let bot: String
    let token: String
    let api: APIClient
    let streams: StreamingClient

    static func make(_ api: APIClient, upstream base: String, kind: String = "openai", botFields: [String: Any] = [:], settings: [String: Any] = [:])
        async throws -> ChatFixture
    {
        let tenant = try await Tenant.make(api, settings: settings)
        var bot: [String: Any] = [
            "name": "Scripted", "system_prompt": "You are terse.", "max_output_tokens": 256,
            "provider": ["kind": kind, "base_url": base + "/v1", "api_key": "sk-upstream-secret-0123456789", "model": "test-model"],
            "is_default": true,
        ]
        bot.merge(botFields) { $1 }
        let created = try await api.request(.post, "/admin/v1/workspaces/\(tenant.workspace)/bots", json: bot)
        try #require(created.status == .created, "\(created.text)")
        let botID = try #require(created.string("id"))
        let token = try await api.mint(key: tenant.key, workspace: tenant.workspace, extra: ["botId": botID])
        return ChatFixture(tenant: tenant, bot: botID, token: token, api: api, streams: StreamingClient(port: try #require(api.client.port)))
    }

    func newConversation(token: String? = nil) async throws -> String {
        let response = try await api.request(.post, "/v1/conversations", as: .bearer(token ?? self.token), json: [:])
        try #require(response.status == .created, "\(response.text)")
        return try #require(response.string("id"))
    }

    func messages(_ conversation: String) async throws -> [[String: Any]] {
        let response = try await api.request(.get, "/v1/conversations/\(conversation)/messages", as: .bearer(token))
        return response["data"] as? [[String: Any]] ?? []
    }
}
