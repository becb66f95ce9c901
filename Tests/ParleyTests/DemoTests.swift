import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import Parley

/// `parley demo`: the offline model answers through the real libcurl path.
@Suite struct DemoTests {
    @Test func theDemoPageTokenURLAndOfflineModelWork() async throws {
        let server = TestServer { $0.demo = true }
        try await server.run { api throws in
            // The test server listens on a port chosen at start; point the demo bot at it.
            let port = try #require(api.client.port)
            let bots = try await api.request(.get, "/admin/v1/workspaces/demo/bots")
            let bot = try #require((bots["data"] as? [[String: Any]])?.first?["id"] as? String)
            let moved = try await api.request(
                .patch, "/admin/v1/workspaces/demo/bots/\(bot)", json: ["provider": ["base_url": "http://127.0.0.1:\(port)/demo/v1"]])
            #expect(moved.status == .ok)

            let page = try await api.request(.get, "/demo", as: .none)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let csp = try #require(page.headers[.contentSecurityPolicy])
            #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"))
            #expect(page.text.contains("/demo/demo.js"))
            let head = try await api.request(.head, "/demo", as: .none)
            #expect(head.status == .ok && head.body.isEmpty, "HEAD-based uptime checks work on the demo page too")
            #expect(head.headers[.contentSecurityPolicy] == csp && head.headers[.contentLength] == String(page.body.count))

            let minted = try await api.request(.post, "/demo/token?visitor=v1", as: .none)
            let token = try #require(minted.string("token"))
            let session = try await api.session(token)
            #expect((session["user"] as? [String: Any])?["id"] as? String == "demo-v1")
            #expect((session["workspace"] as? [String: Any])?["id"] as? String == "demo")

            let streams = StreamingClient(port: port)
            let conversation = try #require(try await api.request(.post, "/v1/conversations", as: .bearer(token), json: [:]).string("id"))
            let reply = try await streams.post(conversation, "hello", token: token)
            #expect(reply.names.last == "response.completed")
            #expect(reply.deltas.contains("offline demo model"))
            #expect(reply.terminalMessage["status"] as? String == "complete")
        }
    }
}
