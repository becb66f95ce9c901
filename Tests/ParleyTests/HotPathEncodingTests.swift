import Foundation
import NIOCore
import Testing

@testable import Parley

/// The hand-written encodings on the per-chunk and per-id paths produce what the general ones
/// would, for the inputs that are hardest to get right.
@Suite struct HotPathEncodingTests {
    static let awkwardTexts: [String] = [
        "",
        "plain words ",
        #"quote " and backslash \ and slash / and </script>"#,
        "line\nbreak, carriage\rreturn, tab\t, bell\u{07}, nul\u{00}, escape\u{1B}, unit\u{1F}, del\u{7F}",
        "\n\nevent: response.completed\ndata: {\"forged\": true}\n\n",
        "é, 日本語, 🙂, U+2028 \u{2028} and U+2029 \u{2029}, NEL \u{85}",
    ]

    @Test(arguments: awkwardTexts)
    func aDeltaEventIsByteForByteWhatJSONEncoderWrites(_ text: String) throws {
        let handWritten = ReplyEvent.delta(text, messageID: "msg_abc", seq: 7)
        let encoded = try ReplyEvent(messageID: "msg_abc", seq: 7, name: .delta, encoding: ReplyPayload.Delta(messageID: "msg_abc", delta: text))
        #expect(handWritten == encoded)
        let decoded = try JSONDecoder().decode([String: String].self, from: Data(handWritten.data.utf8))
        #expect(decoded == ["delta": text, "message_id": "msg_abc"])
    }

    @Test func aFrameIsOneEventWhateverTheModelWrote() throws {
        for text in Self.awkwardTexts {
            let frame = String(buffer: ReplyEvent.delta(text, messageID: "msg_abc", seq: 1).frame)
            let lines = frame.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 5)
            #expect(lines[0] == "id: msg_abc:1" && lines[1] == "event: response.delta" && lines[2].hasPrefix("data: {"))
            #expect(lines[3].isEmpty && lines[4].isEmpty)
            #expect(!frame.utf8.contains(0x0D))
        }
    }

    @Test func anIdCannotBreakAFrameEither() {
        let event = ReplyEvent.delta("text", messageID: "msg_a\r\nevent: forged", seq: 3)
        let lines = String(buffer: event.frame).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.map(String.init) == [
            "id: msg_aevent: forged:3", "event: response.delta", #"data: {"delta":"text","message_id":"msg_a\r\nevent: forged"}"#, "", "",
        ])
        #expect(event.data == #"{"delta":"text","message_id":"msg_a\r\nevent: forged"}"#)
    }

    @Test func framesThatPileUpGoOutInOneWriteInOrder() throws {
        let pending = PendingFrames()
        let events = ["a", "b", "c"].enumerated().map { ReplyEvent.delta($1, messageID: "msg_abc", seq: $0) }
        #expect(pending.add(events[0]), "the first frame wakes the writer")
        #expect(!pending.add(events[1]) && !pending.add(events[2]), "later ones join it")
        let (frames, ended) = pending.take()
        #expect(frames.map { String(buffer: $0) } == events.map { String(buffer: $0.frame) }.joined())
        #expect(!ended)
        #expect(events.map { String(buffer: $0.frame) } == ["a", "b", "c"].enumerated().map { String(buffer: ReplyEvent.delta($1, messageID: "msg_abc", seq: $0).frame) },
                "the run's own frames are untouched")
        #expect(pending.take().0 == nil)

        let terminal = try ReplyEvent(messageID: "msg_abc", seq: 3, name: .completed, encoding: ["done": true])
        #expect(pending.add(terminal), "an empty queue wakes the writer again")
        #expect(pending.take().ended)
    }

    @Test func deltasThatArriveTogetherAreJoinedAndNothingElseMoves() {
        let events: [ProviderEvent] = [
            .model("m"), .delta("a"), .delta("b"), .delta("c"), .usage(.init(inputTokens: 1, outputTokens: 2)), .delta("d"),
            .finish(reason: "stop"),
        ]
        #expect(ProviderEvent.mergingAdjacentDeltas(events) == [
            .model("m"), .delta("abc"), .usage(.init(inputTokens: 1, outputTokens: 2)), .delta("d"), .finish(reason: "stop"),
        ])
        #expect(ProviderEvent.mergingAdjacentDeltas([]) == [])
    }

    @Test func randomTokensUseEveryBase62CharacterAboutEquallyOften() {
        var counts: [UInt8: Int] = [:]
        let draws = 2_000
        for _ in 0..<draws {
            let token = RandomToken.base62(31)
            #expect(token.utf8.count == 31)
            for byte in token.utf8 { counts[byte, default: 0] += 1 }
        }
        #expect(Set(counts.keys) == Set(RandomToken.alphabet))
        // 62,000 characters: about 1,000 each. A biased draw (byte % 62 without rejection) gives
        // the first eight characters ~1,290; these bounds are over 9 standard deviations wide.
        let expected = Double(draws * 31) / 62
        for count in counts.values {
            #expect(abs(Double(count) - expected) < 300)
        }
    }

    @Test func timeOrderedIdsSortByTimeAndKeepTheShapeOfAnId() {
        let times: [Int64] = [0, 1, 61, 62, 1_764_547_200_000, 1_764_547_200_001, 1_764_547_260_000, 4_102_444_800_000]
        let ids = times.map { RandomToken.timeOrderedID("jti_", at: $0) }
        for id in ids {
            #expect(id.hasPrefix("jti_") && id.utf8.count == 24 && RandomToken.isBase62(id.dropFirst(4)), "\(id)")
        }
        #expect(ids.map { $0.prefix(12) } == ids.map { $0.prefix(12) }.sorted(), "byte order is time order")
        #expect(ids[0].prefix(12) == "jti_00000000" && ids[2].prefix(12) == "jti_0000000z" && ids[3].prefix(12) == "jti_00000010")
        let sameMillisecond = (0..<100).map { _ in RandomToken.timeOrderedID("jti_", at: 1_764_547_200_000) }
        #expect(Set(sameMillisecond).count == 100, "the random tail tells ids of one millisecond apart")
    }

    @Test func theUsageDayIsTheGregorianCalendarsUTCDay() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        // The epoch and the second before it, leap days in a year divisible by 400 and in an
        // ordinary leap year, a century that is not a leap year, the last millisecond of a year.
        let days: [Int64] = [0, -1, 951_782_400_000, 951_868_799_999, 1_709_164_800_000, 4_107_542_400_000, 1_767_225_599_999]
        // And every 36 days or so from 2020 for a century, at varying times of day.
        let spread = (0..<1_000).map { Int64($0) * 3_123_456_789 + 1_577_836_800_000 }
        for milliseconds in days + spread {
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(milliseconds: milliseconds))
            let expected = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            #expect(UsageDay.string(for: milliseconds) == expected, "\(milliseconds)")
        }
    }

    @Test(arguments: awkwardTexts)
    func theEventsAroundTheDeltasAreOneLineOfJSONThatReadsBack(_ text: String) throws {
        let record = MessageRecord(
            seq: 9, id: "msg_1", conversationId: "conv_1", workspaceId: "ws_1", userId: "u", botId: "bot_1", role: .assistant,
            content: text, status: .failed, finishReason: nil, errorCode: "upstream_timeout", model: text,
            inputTokens: 5, outputTokens: 7, clientMessageId: nil, replyTo: nil, createdAt: 1_764_547_200_123, updatedAt: 1_764_547_201_000)
        let event = ReplyEvent(
            messageID: record.id, seq: 2, name: .error,
            payload: ReplyPayload.Failed(messageID: record.id, error: .init(code: "upstream_timeout", message: text), message: MessageView(record: record)))
        let lines = String(buffer: event.frame).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5 && lines[2] == "data: \(event.data)")
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any])
        #expect((decoded["error"] as? [String: String])?["message"] == text)
        #expect((decoded["message"] as? [String: Any])?["content"] as? String == text)
        #expect((decoded["message"] as? [String: Any])?["created_at"] as? String == "2025-12-01T00:00:00Z")
    }

    @Test(arguments: awkwardTexts)
    func theHistoryPageAndConversationListAreByteForByteWhatJSONEncoderWrites(_ text: String) throws {
        let times: [Int64] = [0, 999, 1_000, -1, 951_782_400_000, 951_868_799_999, 1_764_547_199_999, 1_764_547_200_123, 4_102_444_799_999]
        let shapes: [(MessageRole, ReplyStatus?, Int?, String?)] = [
            (.user, nil, nil, nil), (.assistant, .streaming, nil, nil), (.assistant, .complete, 12, "stop"), (.assistant, .failed, nil, nil),
            (.assistant, .cancelled, 3, nil), (.assistant, .interrupted, nil, text),
        ]
        let messages = times.flatMap { time in
            shapes.map { role, status, tokens, finish in
                MessageRecord(
                    seq: 1, id: "msg_\(time)", conversationId: "conv_\(text)", workspaceId: "ws_1", userId: "u", botId: "bot_1", role: role,
                    content: text, status: status, finishReason: finish, errorCode: nil, model: "m", inputTokens: tokens,
                    outputTokens: tokens.map { $0 * 2 }, clientMessageId: nil, replyTo: nil, createdAt: time, updatedAt: time)
            }
        }
        for (page, hasMore) in [(messages, true), (Array(messages.prefix(1)), false), ([], false)] {
            let encoded = try JSONBody.encoder.encode(MessagePage(data: page.map { MessageView(record: $0) }, hasMore: hasMore))
            #expect(String(buffer: ChatPageJSON.messages(page, hasMore: hasMore)) == String(decoding: encoded, as: UTF8.self))
        }
        let conversations = ([(nil, nil), (text, text), ("t", nil)] as [(String?, String?)]).enumerated().map { index, pair in
            ConversationRecord(
                seq: 1, id: "conv_\(text)", workspaceId: "ws_1", userId: "u", botId: "bot_1", title: pair.0, lastMessagePreview: pair.1,
                createdAt: times[index], updatedAt: times[index + 3])
        }
        for (page, cursor) in [(conversations, "c_\(text)"), (conversations, nil), ([], nil)] as [([ConversationRecord], String?)] {
            let encoded = try JSONBody.encoder.encode(ListBody(data: page.map { ConversationView(record: $0) }, nextCursor: cursor))
            #expect(String(buffer: ChatPageJSON.conversations(page, nextCursor: cursor)) == String(decoding: encoded, as: UTF8.self))
        }
    }

    /// Runs of bytes that need no escape are copied whole; an escape must still be found and
    /// written at any offset, next to multi-byte characters too.
    @Test func aStringLiteralEscapesAtEveryOffsetAsJSONEncoderDoes() throws {
        for special in ["\"", "\\", "\n", "\u{00}", "\u{1F}", " ", "!", "#", "[", "]", "\u{7F}", "é", "🙂"] {
            for length in [7, 8, 9, 15, 16, 17, 23, 24, 25, 40] {
                for offset in 0..<length {
                    let text = String(repeating: "a", count: offset) + special + String(repeating: "é", count: (length - offset) / 2)
                    var written = ByteBuffer()
                    JSONStringLiteral.write(text, into: &written)
                    #expect(String(buffer: written) == String(decoding: try JSONBody.encoder.encode(text), as: UTF8.self))
                }
            }
        }
    }

    /// The eight-bytes-at-a-time test that finds the bytes to escape: every byte value, in every
    /// position of a word of plain letters, and beside a byte just above each limit.
    @Test func aWordNeedsLookingAtExactlyWhenOneOfItsBytesNeedsEscaping() {
        for value in 0...255 {
            let byte = UInt8(value)
            let needsEscape = byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
            for lane in 0..<8 {
                for filler: UInt8 in [UInt8(ascii: "a"), 0x20, 0x23, 0x5D, 0x80, 0xFF] {
                    var bytes = [UInt8](repeating: filler, count: 8)
                    bytes[lane] = byte
                    let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    #expect(JSONStringLiteral.mayNeedEscape(word) == needsEscape, "byte \(value) in lane \(lane) among \(filler)")
                }
            }
        }
    }

    @Test func hexIsTwoLowercaseDigitsPerByteAsPrintfWritesThem() {
        let every = Data(0...255)
        #expect(every.hexEncoded == every.map { String(format: "%02x", $0) }.joined())
        #expect(Data().hexEncoded == "")
        #expect(Digest256.sha256("abc").hexEncoded == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func aBearerCredentialIsReadWhateverTheSchemesCaseAndSpacing() throws {
        #expect(try BearerCredential.read(header: nil) == nil)
        #expect(try BearerCredential.read(header: "Bearer abc.def") == "abc.def")
        #expect(try BearerCredential.read(header: "bEARER  abc \t") == "abc")
        #expect(try BearerCredential.read(header: "Bearer \t ") == nil, "an empty credential is no credential")
        for notBearer in ["Basic abc", "Bearer", "Bearerabc", "Bearer\tabc", "Token abc", "", "Bearér abc"] {
            #expect(throws: ParleyError.self, "\(notBearer)") { try BearerCredential.read(header: notBearer) }
        }
    }

    @Test(arguments: awkwardTexts)
    func providerBodiesParseToWhatTheProvidersExpect(_ text: String) throws {
        let request = ProviderRequest(
            kind: .openai, baseURL: "http://127.0.0.1/v1", apiKey: nil, model: "m-\(text)", systemPrompt: "be brief \(text)",
            messages: [.init(role: .user, content: text), .init(role: .assistant, content: "ok"), .init(role: .user, content: "again")],
            temperature: 0.7, maxOutputTokens: 300, endUser: "0123abcd")
        let openAI = try #require(try JSONSerialization.jsonObject(with: Data(OpenAIAdapter().body(for: request))) as? NSDictionary)
        #expect(openAI == [
            "model": "m-\(text)", "stream": true, "stream_options": ["include_usage": true], "max_tokens": 300, "user": "0123abcd",
            "temperature": 0.7,
            "messages": [
                ["role": "system", "content": "be brief \(text)"], ["role": "user", "content": text], ["role": "assistant", "content": "ok"],
                ["role": "user", "content": "again"],
            ],
        ] as NSDictionary)

        var noSystem = request
        (noSystem.systemPrompt, noSystem.temperature) = ("", 1.5)
        let anthropic = try #require(try JSONSerialization.jsonObject(with: Data(AnthropicAdapter().body(for: noSystem))) as? NSDictionary)
        #expect(anthropic == [
            "model": "m-\(text)", "stream": true, "max_tokens": 300, "metadata": ["user_id": "0123abcd"], "temperature": 1,
            "messages": [["role": "user", "content": text], ["role": "assistant", "content": "ok"], ["role": "user", "content": "again"]],
        ] as NSDictionary)
        let withoutTemperature = try JSONSerialization.jsonObject(with: Data(OpenAIAdapter().body(for: { var r = request; r.temperature = nil; return r }())))
        #expect((withoutTemperature as? NSDictionary)?["temperature"] == nil)
    }
}
