import CurlStream
import Foundation
import HTTPTypes
import Testing
import TestUpstream

@testable import Parley

/// A reply's terminal event is an acknowledgement: when the disk fills mid-reply, the client is
/// told the outcome is not stored, and the outcome is stored once space comes back.
@Suite struct StorageFullTests {
    /// A tmpfs of `megabytes`, mounted for one test (needs root, as CI runs).
    struct SmallFilesystem {
        let folder: URL

        init(megabytes: Int) async throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-small-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try await Self.run("/bin/mount", "-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", folder.path)
        }

        /// Writes a file until the filesystem refuses more; returns its path.
        func fill() throws -> URL {
            let filler = folder.appendingPathComponent("filler")
            let fd = open(filler.path, O_WRONLY | O_CREAT, 0o600)
            defer { close(fd) }
            let block = [UInt8](repeating: 0x2A, count: 64 * 1024)
            while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
            #expect(errno == ENOSPC, "the filler stopped for lack of space")
            return filler
        }

        func remove() async {
            try? await Self.run("/bin/umount", "-l", folder.path)
            try? FileManager.default.removeItem(at: folder)
        }

        static func run(_ arguments: String...) async throws {
            let process = ChildProcess()
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
            try process.run()
            await process.exited()
            guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        }
    }

    static let isRoot = getuid() == 0

    @Test(.enabled(if: isRoot, "mounting a small filesystem needs root"))
    func aReplyTheFullDiskRefusesEndsUnavailableAndIsStoredOnceSpaceIsFreed() async throws {
        let disk = try await SmallFilesystem(megabytes: 8)
        do {
            try await fillMidReply(disk)
        } catch {
            await disk.remove()
            throw error
        }
        await disk.remove()
    }

    private func fillMidReply(_ disk: SmallFilesystem) async throws {
        let gate = ScriptedUpstream.Gate()
        // Far more text than the log file already holds room for, so its final write needs new space.
        let chunks = ["Hello "] + Array(repeating: String(repeating: "a", count: 64 * 1024), count: 12)
        let upstream = ScriptedUpstream { _ in
            var reply = FakeProvider.openAI(chunks)
            reply.steps.insert(.wait(gate), at: 1)
            return reply
        }
        try await upstream.run { base in
            let server = TestServer(dataDirectory: disk.folder.appendingPathComponent("data"))
            try await server.run { api throws in
                let chat = try await ChatFixture.make(api, upstream: base, botFields: ["max_output_tokens": 200_000])
                let conversation = try await chat.newConversation()
                let response = try await chat.streams.open(
                    "POST", "/v1/conversations/\(conversation)/messages", token: chat.token, json: ["content": "Fill it"])
                var decoder = ServerSentEventDecoder(maxLineBytes: 4 << 20)
                var events: [ServerSentEvent] = []
                var filler: URL?
                for try await chunk in response.body {
                    events += try decoder.feed(chunk)
                    if filler == nil, events.contains(where: { $0.event == "response.delta" }) {
                        // The user message and the empty reply are stored; now the disk fills.
                        filler = try disk.fill()
                        gate.open()
                    }
                }
                let stream = ReplyStream(status: response.status, events: events, comments: 0)
                #expect(stream.names.last == "response.error", "not response.completed: the outcome is not stored")
                #expect(stream.errorCode == "unavailable")
                #expect((stream.terminalMessage["content"] as? String)?.utf8.count == chunks.joined().utf8.count, "the text so far is in the event")
                #expect(stream.terminalMessage["status"] as? String == "interrupted")

                let ready = try await api.request(.get, "/readyz", as: .none)
                #expect(ready.status == .serviceUnavailable)
                #expect((ready.json["error"] as? [String: Any])?["message"] as? String == ParleyError.storageFull.message)
                #expect(ready.headers[.retryAfter] != nil)
                #expect(server.logs.text.contains("could not store the end of a reply"))

                try FileManager.default.removeItem(at: try #require(filler))
                let stored = await eventually(timeout: .seconds(20)) {
                    let last = try? await chat.messages(conversation).last
                    return last?["status"] as? String == "complete"
                }
                #expect(stored, "the outcome is retried until storage takes it")
                #expect((try await chat.messages(conversation).last?["content"] as? String) == chunks.joined(), "the whole text, stored")
                #expect(try await api.request(.get, "/readyz", as: .none).status == .ok)
            }
        }
    }
}
