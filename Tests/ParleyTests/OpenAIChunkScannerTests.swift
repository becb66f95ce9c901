import Foundation
import Testing

@testable import Parley

/// The chunk scanner reads every chunk it answers for exactly as `JSONDecoder` does, and answers
/// for the chunks real providers send.
@Suite struct OpenAIChunkScannerTests {
    typealias Chunk = OpenAIAdapter.Chunk

    /// Shapes sent by OpenAI, vLLM, Ollama and llama.cpp, and by the bench's provider.
    static let usualChunks: [String] = [
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1731000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1731000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1731000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}"#,
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1731000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#,
        #"{"id":"cmpl-9","object":"chat.completion.chunk","created":1,"model":"meta-llama/Llama-3-8B","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null,"stop_reason":null}]}"#,
        #"{"id":"chatcmpl-7","object":"chat.completion.chunk","created":1,"model":"llama3.2","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"é日本🙂"},"finish_reason":null}]}"#,
        #"{"choices":[{"finish_reason":"length","index":0,"delta":{}}],"created":1,"id":"x","model":"local","object":"chat.completion.chunk","usage":{"completion_tokens":5,"prompt_tokens":7,"total_tokens":12},"timings":{"predicted_ms":1.5e2,"prompt_per_second":-0.25}}"#,
        #"{"model":"m","choices":[{"delta":{"content":"quote \" backslash \\ slash \/ tab \t nl \n cr \r bs \b ff \f nul \u0000 e \u00e9 smile \ud83d\ude42"}}]}"#,
        "{ \"model\" : \"m\" ,\n\t\"choices\" : [ { \"delta\" : { \"content\" : \"spaced\" } , \"finish_reason\" : null } ] }\r\n",
        #"{"model":"m","choices":[{"delta":{"content":"x","tool_calls":[{"index":0,"function":{"arguments":"{\"a\":[1,2,{}]}"}}]}}],"flags":[true,false,null,0,-0,1.5,2E-3]}"#,
        #"{"model":"m","choices":[{"delta":{"content":null},"finish_reason":null}],"error":null}"#,
        #"{"error":{"message":"overloaded","type":"server_error"}}"#,
        #"{"model":null,"choices":null,"usage":{"prompt_tokens":null,"completion_tokens":3}}"#,
        #"{"model":42,"choices":[{"delta":null}]}"#,
        #"{}"#,
    ]

    /// Where answering would mean copying a choice `JSONDecoder` makes on its own: which of two
    /// copies of a key wins, what an escaped key spells, how deep is too deep.
    static let leftToJSONDecoder: [String] = [
        #"{"model":"a","model":"b","choices":[]}"#,
        #"{"mod\u0065l":"m","choices":[]}"#,
        String(repeating: "[", count: 40) + String(repeating: "]", count: 40),
        #"{"deep":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + #","choices":[]}"#,
    ]

    /// Inputs the scanner may pass over, to `JSONDecoder`, which then decides.
    static let unusualChunks: [String] = leftToJSONDecoder + [
        #"{"choices":[{"delta":{"content":1}}]}"#,
        #"{"choices":[{"delta":"text"}]}"#,
        #"{"choices":[{"finish_reason":7}]}"#,
        #"{"choices":{"0":{}}}"#,
        #"{"choices":[1]}"#,
        #"{"choices":[],"usage":{"prompt_tokens":1.0,"completion_tokens":2}}"#,
        #"{"choices":[],"usage":{"prompt_tokens":1e2}}"#,
        #"{"choices":[],"usage":"none"}"#,
        #"{"choices":[],"usage":{"prompt_tokens":99999999999999999999999}}"#,
        #"{"choices":[{"delta":{"content":"lone \ud83d surrogate"}}]}"#,
        #"{"choices":[{"delta":{"content":"bad \x escape"}}]}"#,
        "{\"choices\":[{\"delta\":{\"content\":\"raw\ncontrol\"}}]}",
        #"{"choices":[]} trailing"#,
        #"{"choices":[]"#,
        #"{"choices":[],}"#,
        #"{"n":01,"choices":[]}"#,
        #"{"n":-,"choices":[]}"#,
        #"{"n":1.,"choices":[]}"#,
        #"{"n":tru,"choices":[]}"#,
        #"[{"choices":[]}]"#,
        "",
        "not json",
    ]

    @Test(arguments: usualChunks)
    func theUsualChunksAreScannedAsJSONDecoderReadsThem(_ text: String) throws {
        let scanned = try #require(OpenAIChunkScanner.scan(text), "the scanner passed over a usual chunk")
        #expect(scanned == Chunk.decoded(text))
    }

    @Test(arguments: unusualChunks)
    func anUnusualChunkIsReadAsJSONDecoderReadsItOrLeftToIt(_ text: String) {
        let decoded = Chunk.decoded(text)
        if let scanned = OpenAIChunkScanner.scan(text) { #expect(scanned == decoded) }
        #expect(Chunk.read(text) == decoded)
    }

    @Test(arguments: leftToJSONDecoder)
    func theScannerLeavesTheUnsureCasesToJSONDecoder(_ text: String) {
        #expect(OpenAIChunkScanner.scan(text) == nil)
    }

    /// Thousands of chunks damaged at random: wherever the scanner answers, it agrees.
    @Test func damagedChunksAreNeverReadDifferently() {
        var random = SeededRandom(seed: 0x5EED)
        let alphabet = Array(#"{}[]":,\ u0123456789abcdefnrtl.-+eE"#.utf8) + [0x0A, 0x00, 0xC3, 0xA9]
        var answered = 0
        var disagreements: [String] = []
        for round in 0..<20_000 {
            var bytes = Array(Self.usualChunks[round % Self.usualChunks.count].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let at = Int.random(in: 0...bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where at < bytes.count: bytes.remove(at: at)
                case 1: bytes.insert(alphabet.randomElement(using: &random)!, at: at)
                default:
                    let end = min(bytes.count, at + Int.random(in: 1...12, using: &random))
                    bytes.insert(contentsOf: bytes[at..<end], at: at)
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let scanned = OpenAIChunkScanner.scan(text) else { continue }
            answered += 1
            if scanned != Chunk.decoded(text) { disagreements.append(text) }
        }
        #expect(disagreements == [])
        // Most damage breaks the JSON; enough survives to make the comparison mean something.
        #expect(answered > 1_000)
    }
}

/// SplitMix64: the same sequence on every run, so a failure can be replayed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
