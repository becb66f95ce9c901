import CurlStream
import Foundation
import GRDB
import Testing
import TestUpstream

@testable import Parley

/// A server killed mid-reply loses nothing it acknowledged (DESIGN.md §4, last rule).
@Suite struct CrashRecoveryTests {
    /// Plain JSON calls to a server running as its own process.
    struct Remote {
        let base: String
        let http = CurlClient()

        func call(_ method: String, _ path: String, bearer: String, json: [String: Any]? = nil) async throws -> [String: Any] {
            var headers = [(name: "Authorization", value: "Bearer \(bearer)")]
            var body: [UInt8]?
            if let json {
                headers.append((name: "Content-Type", value: "application/json"))
                body = Array(try JSONSerialization.data(withJSONObject: json))
            }
            let response = try await http.execute(CurlRequest(url: base + path, method: method, headers: headers, body: body))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
        }

        func waitUntilReady() async throws {
            let ready = await eventually(timeout: .seconds(10), every: .milliseconds(100)) {
                (try? await http.execute(CurlRequest(url: base + "/readyz")))?.status == 200
            }
            if !ready { Issue.record("the server did not become ready") }
        }
    }

    static func startServer(dataDirectory: URL, adminKey: String) async throws -> (process: ChildProcess, remote: Remote) {
        let (process, port) = try await CommandLineTests.launch(
            ["serve", "--data-dir", dataDirectory.path, "--allow-private-upstreams"], environment: ["PARLEY_ADMIN_KEY": adminKey])
        return (process, Remote(base: "http://127.0.0.1:\(port)"))
    }

    @Test func sigkillMidReplyLeavesTheUserMessageAndTheFlushedPartialReplyInterrupted() async throws {
        let chunk = FakeProvider.openAIChunk(["model": "m", "choices": [["delta": ["content": "word "], "finish_reason": NSNull()]]])
        let upstream = ScriptedUpstream { _ in .init(steps: [.forever(chunk, every: .milliseconds(100))]) }
        let folder = try CommandLineTests.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let adminKey = "sk_admin_" + RandomToken.base62(32)

        try await upstream.run { providerBase in
            let (first, remote) = try await Self.startServer(dataDirectory: folder, adminKey: adminKey)
            try await remote.waitUntilReady()
            let workspace = try #require(try await remote.call("POST", "/admin/v1/workspaces", bearer: adminKey, json: ["name": "Crash"])["id"] as? String)
            _ = try await remote.call(
                "POST", "/admin/v1/workspaces/\(workspace)/bots", bearer: adminKey,
                json: ["name": "B", "max_output_tokens": 100_000, "provider": ["kind": "openai", "model": "m", "base_url": providerBase + "/v1"]])
            let token = try #require(
                try await remote.call(
                    "POST", "/api/v1/embed/generate-token", bearer: adminKey,
                    json: ["workspaceId": workspace, "userContext": ["id": "u-1"]])["embedToken"] as? String)
            let conversation = try #require(try await remote.call("POST", "/v1/conversations", bearer: token, json: [:])["id"] as? String)

            let stream = try await remote.http.execute(
                CurlRequest(
                    url: remote.base + "/v1/conversations/\(conversation)/messages", method: "POST",
                    headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                    body: Array(#"{"content": "talk forever"}"#.utf8)))
            let reading = Task {
                for try await _ in stream.body {}
            }
            try await Task.sleep(for: .milliseconds(2600))  // two flushes at least
            kill(first.processIdentifier, SIGKILL)
            await first.exited()
            reading.cancel()
            #expect(first.terminationReason == .uncaughtSignal)

            let (second, restarted) = try await Self.startServer(dataDirectory: folder, adminKey: adminKey)
            defer {
                second.terminate()
                second.waitUntilExit()
            }
            try await restarted.waitUntilReady()
            let messages = try #require(
                try await restarted.call("GET", "/v1/conversations/\(conversation)/messages", bearer: token)["data"] as? [[String: Any]])
            #expect(messages.count == 2)
            #expect(messages.first?["content"] as? String == "talk forever", "the user message was stored before anything else")
            let reply = try #require(messages.last)
            #expect(reply["status"] as? String == "interrupted")
            let partial = try #require(reply["content"] as? String)
            #expect(partial.hasPrefix("word word "), "at least the flushed text survived")
            #expect(partial.split(separator: " ").allSatisfy { $0 == "word" })

            let queue = try DatabaseQueue(path: folder.appendingPathComponent("parley.sqlite").path)
            let integrity = try await queue.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
            #expect(integrity == "ok")
        }
    }
}
