import Foundation
import HTTPTypes
import Synchronization
import Testing
import TestUpstream

@testable import Parley

/// The SSE parser shared by both providers.
@Suite struct ServerSentEventDecoderTests {
    static let stream = "event: a\ndata: one\n\n: comment\r\ndata: two\r\ndata: lines\r\n\r\nid: 7\rdata: ünï 🎉\r\rdata: cr\rdata: then lf\n\n"

    @Test func decodesEveryLineEndingAndMultiLineData() throws {
        var decoder = ServerSentEventDecoder()
        let events = try decoder.feed(Array(Self.stream.utf8))
        #expect(events == [
            ServerSentEvent(event: "a", data: "one", id: nil),
            ServerSentEvent(event: nil, data: "two\nlines", id: nil),
            ServerSentEvent(event: nil, data: "ünï 🎉", id: "7"),
            ServerSentEvent(event: nil, data: "cr\nthen lf", id: "7"),
        ])
    }

    @Test func givesTheSameEventsWhereverTheBytesAreCut() throws {
        var whole = ServerSentEventDecoder()
        let expected = try whole.feed(Array(Self.stream.utf8))
        let bytes = Array(Self.stream.utf8)
        for cut in 0...bytes.count {
            var decoder = ServerSentEventDecoder()
            let events = try decoder.feed(bytes[..<cut]) + decoder.feed(bytes[cut...])
            #expect(events == expected, "cut at byte \(cut)")
        }
        var byteByByte = ServerSentEventDecoder()
        #expect(try bytes.flatMap { try byteByByte.feed([$0]) } == expected)
    }

    @Test func refusesALineOverTheCap() {
        var decoder = ServerSentEventDecoder(maxLineBytes: 16)
        #expect(throws: ServerSentEventDecoder.LineTooLong.self) { try decoder.feed(Array(String(repeating: "x", count: 17).utf8)) }
    }
}
