import Testing

@testable import Parley

/// Anthropic's stream events and whole answers, decoded without I/O.
@Suite struct AnthropicAdapterTests {
    func parse(_ events: [(String, String)]) throws(ProviderFailure) -> [ProviderEvent] {
        var parser = AnthropicAdapter().makeParser()
        var out: [ProviderEvent] = []
        for (name, data) in events { out += try parser.parse(ServerSentEvent(event: name, data: data)) }
        return out
    }

    @Test func aStreamGivesItsModelTextUsageAndFinish() throws {
        let events = try parse([
            ("message_start", #"{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":12,"cache_read_input_tokens":3}}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}}"#),
            ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}"#),
        ])
        #expect(events == [.model("claude-x"), .delta("Hi"), .finish(reason: "end_turn"), .usage(TokenUsage(inputTokens: 12, outputTokens: 4))])
    }

    @Test func errorsAndMalformedEventsAreFailures() {
        #expect(throws: ProviderFailure(code: .upstreamRateLimited, message: "The provider is overloaded.")) {
            try parse([("error", #"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#)])
        }
        #expect(throws: ProviderFailure.upstream("The provider sent a malformed delta.")) {
            try parse([("content_block_delta", #"{"type":"content_block_delta","index":0}"#)])
        }
        #expect(throws: ProviderFailure.upstream("The provider sent a chunk that is not JSON.")) {
            try parse([("message_start", "not json")])
        }
    }

    @Test func aWholeAnswerIsOneDeltaWithItsUsage() throws {
        let body = #"{"type":"message","model":"claude-x","content":[{"type":"text","text":"All "},{"type":"tool_use","id":"t"},{"type":"text","text":"here."}],"stop_reason":"max_tokens","usage":{"input_tokens":7,"output_tokens":2}}"#
        let events = try AnthropicAdapter().wholeReply(Array(body.utf8))
        #expect(events == [.model("claude-x"), .delta("All here."), .usage(TokenUsage(inputTokens: 7, outputTokens: 2)), .finish(reason: "max_tokens")])
        #expect(throws: ProviderFailure.self) {
            try AnthropicAdapter().wholeReply(Array(#"{"type":"error","error":{"type":"invalid_request_error"}}"#.utf8))
        }
    }
}
