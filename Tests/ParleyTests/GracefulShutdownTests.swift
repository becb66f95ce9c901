import CurlStream
import Foundation
import GRDB
import Testing
import TestUpstream

@testable import Parley

/// SIGTERM lets running replies finish, up to the grace period (issue 5's graceful shutdown).
@Suite struct GracefulShutdownTests {
    /// Starts a server, begins a reply of `words` words 200 ms apart, sends SIGTERM, and returns
    /// the exit status and the stored reply after a restart.
    func stopMidReply(graceSeconds: Int) async throws -> (status: Int32, reply: [String: String]) {
        let chunk = FakeProvider.openAIChunk(["model": "m", "choices": [["delta": ["content": "w "], "finish_reason": NSNull()]]])
        let upstream = ScriptedUpstream { _ in
            var steps: [ScriptedUpstream.Step] = []
            for _ in 0..<10 { steps += [.text(chunk), .sleep(.milliseconds(200))] }
            steps.append(.text(FakeProvider.openAIChunk(["model": "m", "choices": [["delta": [:], "finish_reason": "stop"]]]) + "data: [DONE]\n\n"))
            return .init(steps: steps)
        }
        let folder = try CommandLineTests.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let adminKey = "sk_admin_" + RandomToken.base62(32)
        return try await upstream.run { providerBase in
            let (process, port) = try await CommandLineTests.launch(
                ["serve", "--data-dir", folder.path, "--allow-private-upstreams"],
                environment: ["PARLEY_ADMIN_KEY": adminKey, "PARLEY_SHUTDOWN_GRACE_SECONDS": String(graceSeconds)])
            let remote = CrashRecoveryTests.Remote(base: "http://127.0.0.1:\(port)")
            try await remote.waitUntilReady()
            let workspace = try #require(try await remote.call("POST", "/admin/v1/workspaces", bearer: adminKey, json: ["name": "Stop"])["id"] as? String)
            _ = try await remote.call(
                "POST", "/admin/v1/workspaces/\(workspace)/bots", bearer: adminKey,
                json: ["name": "B", "provider": ["kind": "openai", "model": "m", "base_url": providerBase + "/v1"]])
            let token = try #require(
                try await remote.call("POST", "/api/v1/embed/generate-token", bearer: adminKey,
                                      json: ["workspaceId": workspace, "userContext": ["id": "u-1"]])["embedToken"] as? String)
            let conversation = try #require(try await remote.call("POST", "/v1/conversations", bearer: token, json: [:])["id"] as? String)
            let stream = try await remote.http.execute(
                CurlRequest(url: remote.base + "/v1/conversations/\(conversation)/messages", method: "POST",
                            headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                            body: Array(#"{"content": "go"}"#.utf8)))
            let reading = Task { for try await _ in stream.body {} }
            try await Task.sleep(for: .milliseconds(500))
            process.terminate()  // SIGTERM
            await process.exited()
            reading.cancel()
            let status = process.terminationStatus

            let (again, againPort) = try await CommandLineTests.launch(
                ["serve", "--data-dir", folder.path, "--allow-private-upstreams"], environment: ["PARLEY_ADMIN_KEY": adminKey])
            defer {
                again.terminate()
                again.waitUntilExit()
            }
            let restarted = CrashRecoveryTests.Remote(base: "http://127.0.0.1:\(againPort)")
            let conversationView = try await restarted.call("GET", "/admin/v1/workspaces/\(workspace)/conversations/\(conversation)", bearer: adminKey)
            let reply = (conversationView["messages"] as? [[String: Any]])?.last ?? [:]
            return (status, reply.compactMapValues { $0 as? String })
        }
    }

    @Test func runningRepliesFinishWithinTheGracePeriod() async throws {
        let (status, reply) = try await stopMidReply(graceSeconds: 30)
        #expect(status == 0)
        #expect(reply["status"] == "complete")
        #expect(reply["content"] == String(repeating: "w ", count: 10))
    }

    @Test func repliesStillRunningAtTheDeadlineEndInterrupted() async throws {
        let (status, reply) = try await stopMidReply(graceSeconds: 0)
        #expect(status == 0)
        #expect(reply["status"] == "interrupted")
        #expect(reply["content"]?.hasPrefix("w ") == true, "the text so far is kept")
    }
}
