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

    @Test func aTimeIsWrittenAsJSONEncoderWritesItsDate() throws {
        // Before and at the epoch, the leap days of 2000 and 2024, the last millisecond of a
        // year, the last second a four-digit year can hold.
        let edges: [Int64] = [-86_400_001, -1, 0, 999, 951_782_400_000, 951_868_799_999, 1_709_164_800_000, 1_767_225_599_999, 253_402_300_799_999]
        // And every 36 days or so from 1970 for two centuries, each at another time of day.
        let spread = (0..<2_000).map { Int64($0) * 3_123_456_789 + 7_777 }
        for milliseconds in edges + spread {
            var object = JSONObjectWriter()
            object.field("at", timeMilliseconds: milliseconds)
            let encoded = try JSONBody.encoder.encode(["at": Date(milliseconds: milliseconds)])
            #expect(String(decoding: object.bytes(), as: UTF8.self) == String(decoding: encoded, as: UTF8.self), "\(milliseconds)")
        }
    }

    /// Audit rows' details and tokens' metadata are written by hand: byte for byte what
    /// `JSONEncoder` writes with sorted keys and unescaped slashes, for every kind of value and of key.
    @Test func aJSONValueIsWrittenAsJSONEncoderWritesIt() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let numbers: [Double] = [
            0, -0.0, 1, -1, 600, 0.5, -2.25, 0.1, 1e-7, 123_456.789, 999_999_999_999_999, -1e14, 1e15, 1e21, 3.141_592_653_589_793,
        ]
        var values: [JSONValue] = [.null, .bool(true), .bool(false)] + numbers.map(JSONValue.number) + Self.awkwardTexts.map(JSONValue.string)
        values.append(.array(values))
        values.append(.array([]))
        values.append(.object([:]))
        let keys = ["b", "a", "B", "A", "a10", "a2", "a1", "é", "e", "z", "_", "Z9", "", "日本", "🙂", "a/b", "quote\"", "line\nbreak"]
        let object = JSONValue.object(Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, values[$0 % values.count]) }))
        values += [object, .object(["inner": object, "list": .array([object, .null])])]
        for value in values {
            let expected = String(decoding: try encoder.encode(value), as: UTF8.self)
            #expect(value.encodedText == expected, "\(value.encodedText.prefix(300)) against \(expected.prefix(300))")
        }
    }

    @Test(arguments: awkwardTexts)
    func aHandWrittenMessageIsByteForByteWhatJSONEncoderWrites(_ text: String) throws {
        let times: [Int64] = [0, 999, 1_000, 951_782_400_000, 951_868_799_999, 1_764_547_199_999, 1_764_547_200_000, 4_102_444_799_999]
        let shapes: [(MessageRole, ReplyStatus?, Int?)] = [
            (.user, nil, nil), (.assistant, .streaming, nil), (.assistant, .complete, 12), (.assistant, .failed, nil), (.assistant, .cancelled, 3),
        ]
        let records = times.flatMap { time in
            shapes.map { role, status, tokens in
                MessageRecord(
                    seq: 1, id: "msg_\(time)", conversationId: "conv_\(text)", workspaceId: "ws_1", userId: "u", botId: "bot_1", role: role,
                    content: text, status: status, finishReason: status == .complete ? "stop" : nil, errorCode: nil, model: "m",
                    inputTokens: tokens, outputTokens: tokens.map { $0 * 2 }, clientMessageId: nil, replyTo: nil, createdAt: time, updatedAt: time)
            }
        }
        for record in records {
            var object = JSONObjectWriter()
            MessageView.write(record, into: &object)
            let encoded = String(decoding: try JSONBody.encoder.encode(MessageView(record: record)), as: UTF8.self)
            #expect(String(decoding: object.bytes(), as: UTF8.self) == encoded, "\(record.createdAt) \(record.role) \(String(describing: record.status))")
        }
    }

    @Test(arguments: awkwardTexts)
    func theEventsAroundTheDeltasAreByteForByteWhatJSONEncoderWrites(_ text: String) throws {
        let shapes: [(MessageRole, ReplyStatus?, String?)] = [
            (.user, nil, nil), (.assistant, .complete, nil), (.assistant, .cancelled, nil), (.assistant, .failed, "upstream_timeout"),
            (.assistant, .interrupted, "interrupted"),
        ]
        for (role, status, errorCode) in shapes {
            let record = MessageRecord(
                seq: 9, id: "msg_\(text)", conversationId: "conv_1", workspaceId: "ws_1", userId: "u", botId: "bot_1", role: role,
                content: text, status: status, finishReason: status == .complete ? "stop" : nil, errorCode: errorCode, model: text,
                inputTokens: 5, outputTokens: 7, clientMessageId: nil, replyTo: nil, createdAt: 1_764_547_200_123, updatedAt: 1_764_547_201_000)
            let message = MessageView(record: record)
            try expectSameEvent(.userMessage, ReplyPayload.UserMessage(message: message))
            try expectSameEvent(.started, ReplyPayload.Started(messageID: record.id, conversationID: "conv_\(text)", model: text))
            try expectSameEvent(.completed, ReplyPayload.Completed(message: message))
            try expectSameEvent(
                .error, ReplyPayload.Failed(messageID: record.id, error: .init(code: errorCode ?? "interrupted", message: text), message: message))
        }
    }

    private func expectSameEvent(_ name: ReplyEvent.Name, _ payload: some HandWrittenPayload, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let handWritten = ReplyEvent(messageID: "msg_abc", seq: 2, name: name, payload: payload)
        let encoded = try ReplyEvent(messageID: "msg_abc", seq: 2, name: name, encoding: payload)
        #expect(handWritten.data == encoded.data, sourceLocation: sourceLocation)
        #expect(handWritten == encoded, sourceLocation: sourceLocation)
    }

    @Test(arguments: awkwardTexts)
    func aHandWrittenConversationIsByteForByteWhatJSONEncoderWrites(_ text: String) throws {
        let records = ([(nil, nil), (text, text), ("t", nil)] as [(String?, String?)]).map { title, preview in
            ConversationRecord(
                seq: 1, id: "conv_\(text)", workspaceId: "ws_1", userId: "u", botId: "bot_1", title: title, lastMessagePreview: preview,
                createdAt: 951_782_400_999, updatedAt: 1_764_547_199_999)
        }
        for (someRecords, cursor) in [(records, "c_\(text)"), (records, nil), ([], nil)] as [([ConversationRecord], String?)] {
            let handWritten = String(buffer: ConversationView.list(someRecords, nextCursor: cursor))
            let encoded = try JSONBody.encoder.encode(ListBody(data: someRecords.map(ConversationView.init), nextCursor: cursor))
            #expect(handWritten == String(decoding: encoded, as: UTF8.self))
        }
    }

    /// Runs of bytes that need no escape are copied whole; an escape must still be found and
    /// written at any offset, next to multi-byte characters too.
    @Test func aStringLiteralEscapesAtEveryOffsetAsJSONEncoderDoes() throws {
        for special in ["\"", "\\", "\n", "\u{00}", "\u{1F}", " ", "!", "#", "[", "]", "\u{7F}", "é", "🙂"] {
            for length in [7, 8, 9, 15, 16, 17, 23, 24, 25, 40] {
                for offset in 0..<length {
                    let text = String(repeating: "a", count: offset) + special + String(repeating: "é", count: (length - offset) / 2)
                    var written = JSONBytes(capacity: 0)
                    JSONStringLiteral.write(text, into: &written)
                    #expect(String(decoding: written.array, as: UTF8.self) == String(decoding: try JSONBody.encoder.encode(text), as: UTF8.self))
                }
            }
        }
    }

    /// Appends of every kind, across many growths, give what an array given the same bytes holds;
    /// and a copy is a value: appending to one side leaves the other as it was.
    @Test func jsonBytesHoldWhatAnArrayWouldAndCopiesAreValues() {
        var generator = SystemRandomNumberGenerator()
        var bytes = JSONBytes(capacity: 0)
        var expected: [UInt8] = []
        var snapshots: [(JSONBytes, [UInt8])] = []
        for step in 0..<3_000 {
            switch step % 5 {
            case 0:
                let byte = UInt8.random(in: 0...255, using: &generator)
                bytes.append(byte)
                expected.append(byte)
            case 1:
                let run = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                run.withUnsafeBytes { bytes.append($0) }
                expected += run
            case 2:
                bytes.append("static text")
                expected += Array("static text".utf8)
            case 3:
                let value = UInt64.random(in: 0...99_999, using: &generator)
                bytes.appendDecimal(value, digits: 5)
                expected += Array(String(format: "%05llu", value).utf8)
            default:
                let length = Int.random(in: 0...40, using: &generator)
                bytes.append(length: length) { text in
                    for index in 0..<length { text[index] = UInt8(truncatingIfNeeded: index) }
                }
                expected += (0..<length).map { UInt8(truncatingIfNeeded: $0) }
            }
            if step % 400 == 0 { snapshots.append((bytes, expected)) }
        }
        #expect(bytes.count == expected.count)
        #expect(bytes.array == expected)
        for (var snapshot, itsBytes) in snapshots {
            #expect(snapshot.array == itsBytes, "a copy taken earlier does not see later appends")
            snapshot.append("appended to the copy")
            #expect(snapshot.array == itsBytes + Array("appended to the copy".utf8))
        }
        #expect(bytes.array == expected, "nor does the original see the copies' appends")
        var copy = bytes
        copy.append(1)
        bytes.append(2)
        #expect(copy.array == expected + [1] && bytes.array == expected + [2])
        var fromPlaceholder = JSONBytes.placeholder
        fromPlaceholder.append(7)
        #expect(fromPlaceholder.array == [7] && JSONBytes.placeholder.array == [], "placeholders share nothing that is written")
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

    @Test(arguments: awkwardTexts)
    func aMintAnswerIsByteForByteWhatJSONEncoderWrites(_ text: String) throws {
        for seconds in [0, 1_764_547_199, 1_764_547_200.25, 1_764_547_200.999, 4_102_444_799.5] as [TimeInterval] {
            let answer = TokenRoutes.GenerateTokenAnswer(
                embedToken: "eyJ.\(text).sig", expiresAt: Date(timeIntervalSince1970: seconds), botId: "bot_\(text)")
            #expect(String(buffer: answer.json) == String(decoding: try JSONBody.encoder.encode(answer), as: UTF8.self), "\(seconds)")
        }
    }

    @Test func integersAreWrittenAsJSONEncoderWritesThem() throws {
        let values = [0, 7, 9, 10, 99, 100, 12_345, 1_000_000_007, -1, -9, -10, -12_345, Int.max, Int.min, Int.max - 1, Int.min + 1]
        for value in values {
            var object = JSONObjectWriter()
            object.field("n", value)
            let encoded = String(decoding: try JSONBody.encoder.encode(["n": value]), as: UTF8.self)
            #expect(String(decoding: object.bytes(), as: UTF8.self) == encoded)
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
