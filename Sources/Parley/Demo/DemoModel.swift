import Foundation
import Hummingbird
import NIOCore

/// An OpenAI-compatible chat-completions endpoint that Parley serves to itself in `parley demo`,
/// so the whole path (provider adapter, libcurl, SSE parsing, storage, streaming) runs offline.
///
/// It "answers" with canned Markdown chosen from the last user message, streamed a word at a
/// time like a real model.
struct DemoModel {
    let wordDelay: Duration

    func register(on router: Router<ParleyRequestContext>) {
        router.post("/demo/v1/chat/completions") { request, _ in
            let buffer = try await request.body.collect(upTo: RequestLimits.maxBodyBytes)
            let body = (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] ?? [:]
            let messages = body["messages"] as? [[String: Any]] ?? []
            let question = messages.last { $0["role"] as? String == "user" }?["content"] as? String ?? ""
            let turns = messages.filter { $0["role"] as? String == "user" }.count
            let words = Self.answer(to: question, turn: turns).split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            let model = body["model"] as? String ?? "parley-demo"
            let delay = wordDelay
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    for (index, word) in words.enumerated() {
                        let piece = index == 0 ? word : " " + word
                        try await writer.write(ByteBuffer(string: Self.chunk(model: model, content: piece, finish: nil)))
                        try await Task.sleep(for: delay)
                    }
                    try await writer.write(ByteBuffer(string: Self.chunk(model: model, content: nil, finish: "stop")))
                    let usage = #"{"id":"demo","model":"\#(model)","choices":[],"usage":{"prompt_tokens":\#(question.count / 4 + 1),"completion_tokens":\#(words.count)}}"#
                    try await writer.write(ByteBuffer(string: "data: \(usage)\n\ndata: [DONE]\n\n"))
                    try await writer.finish(nil)
                })
        }
    }

    static func chunk(model: String, content: String?, finish: String?) -> String {
        var delta: [String: Any] = [:]
        if let content { delta["content"] = content }
        let object: [String: Any] = [
            "id": "demo", "object": "chat.completion.chunk", "model": model,
            "choices": [["index": 0, "delta": delta, "finish_reason": finish.map { $0 as Any } ?? NSNull()]],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return "data: \(String(decoding: data, as: UTF8.self))\n\n"
    }

    static func answer(to question: String, turn: Int) -> String {
        let lowered = question.lowercased()
        if lowered.contains("markdown") || lowered.contains("format") {
            return """
                Here is what I can render, **safely**:

                - *emphasis* and `inline code`
                - [a link](https://example.com) that opens in a new tab
                - lists, tables and code blocks:

                ```swift
                let greeting = "Hello from Parley"
                ```

                | feature | status |
                |---|---|
                | streaming | yes |
                | history | yes |
                """
        }
        if lowered.contains("hello") || lowered.contains("hi") || turn == 1 {
            return """
                Hello! I am Parley's offline demo model. Everything you see is real: your message was \
                stored in SQLite, this reply is streaming to you over Server-Sent Events, and Parley \
                fetched it from an OpenAI-compatible endpoint through libcurl — an endpoint that \
                happens to be Parley itself. Ask me about **Markdown** to see formatting, or reload the \
                page: your conversation will still be here.
                """
        }
        return """
            You said: “\(question.prefix(200))”. I am only a demo model, so I cannot really answer — but \
            this is message number \(turn) of our conversation, and every word of it is saved. Set \
            `OPENAI_API_KEY` before `make demo` to talk to a real model instead.
            """
    }
}
