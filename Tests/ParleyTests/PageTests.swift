import Foundation
import HTTPTypes
import Testing
import TestUpstream

@testable import Parley

/// DESIGN.md §5–6 from the server's side: what the pages send, and whom they refuse.
@Suite struct PageTests {
    @Test func widgetJSIsCachedBrieflyWithAStrongETag() async throws {
        try await TestServer().run { api throws in
            let first = try await api.request(.get, "/widget.js", as: .none)
            #expect(first.status == .ok)
            #expect(first.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(first.headers[.cacheControl] == "public, max-age=300")
            #expect(first.text.contains("window.Parley = Parley"))
            #expect(first.headers[.contentEncoding] == nil, "plain unless the client asks")
            let compressed = try await api.request(.get, "/widget.js", as: .none, headers: [.acceptEncoding: "br, gzip;q=0.8"])
            #expect(compressed.headers[.contentEncoding] == "gzip")
            #expect(compressed.body.count < first.body.count / 2)
            #expect(compressed.body.prefix(2) == Data([0x1F, 0x8B]), "a gzip stream")
            let refused = try await api.request(.get, "/widget.js", as: .none, headers: [.acceptEncoding: "gzip;q=0"])
            #expect(refused.headers[.contentEncoding] == nil)
            let etag = try #require(first.headers[.eTag])
            let again = try await api.request(.get, "/widget.js", as: .none, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified)
            #expect(again.body.isEmpty)
        }
    }

    @Test func theIframePageIsFramableOnlyByTheWorkspacesOriginsAndRunsOnlyNoncedScripts() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            let page = try await api.request(.get, "/embedded-chat?token=\(token)&theme=dark&hideHeader=true&locale=ar", as: .none)
            #expect(page.status == .ok)
            #expect(page.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
            let csp = try #require(page.headers[.contentSecurityPolicy])
            #expect(csp.contains("frame-ancestors https://app.example.com"))
            #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"))
            let nonce = try #require(csp.firstMatch(of: /script-src 'nonce-([A-Za-z0-9]+)'/)?.1)
            #expect(page.text.contains("<script src=\"/widget.js\" nonce=\"\(nonce)\""))
            #expect(page.text.contains("dir=\"rtl\""))
            #expect(!page.text.contains(token), "the token is not echoed into the page")
            let second = try await api.request(.get, "/embedded-chat?token=\(token)", as: .none)
            #expect(second.headers[.contentSecurityPolicy] != page.headers[.contentSecurityPolicy], "a fresh nonce per response")
        }
    }

    @Test func theIframePageRefusesTokensThatAreNotGenuine() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            let parts = token.split(separator: ".")
            for bad in ["", "nonsense", "\(parts[0]).\(parts[1]).AAAA"] {
                let page = try await api.request(.get, "/embedded-chat?token=\(bad)", as: .none)
                #expect(page.status == .unauthorized)
                #expect(page.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
                #expect(!page.text.contains("/widget.js"))
            }
        }
    }

    @Test func anExpiredButGenuineTokenStillGetsThePageSoItCanSayExpired() async throws {
        let server = TestServer()
        try await server.run { api throws in
            let tenant = try await Tenant.make(api)
            let token = try await api.mint(key: tenant.key, workspace: tenant.workspace, extra: ["ttlSeconds": 60])
            server.clock.advance(by: 120)
            let page = try await api.request(.get, "/embedded-chat?token=\(token)", as: .none)
            #expect(page.status == .ok)
            #expect(try await api.session(token).errorCode == "token_expired")
        }
    }

    // MARK: The read-only view

    func conversationWithReply(_ api: APIClient, base: String) async throws -> (ChatFixture, String) {
        let chat = try await ChatFixture.make(api, upstream: base)
        let conversation = try await chat.newConversation()
        _ = try await chat.streams.post(conversation, "What is **2+2**?", token: chat.token)
        return (chat, conversation)
    }

    @Test func aSignedLinkShowsTheConversationAndAWrongOneShowsNothing() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["It is ", "4."]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let (chat, conversation) = try await conversationWithReply(api, base: base)
                let workspace = chat.tenant.workspace
                let secret = try #require(try await api.request(.get, "/admin/v1/workspaces/\(workspace)/view-secret").string("view_secret"))
                #expect(secret.count == 64)
                let signature = ViewSignature.sign(secret: secret, conversationID: conversation, validUntil: nil)

                let page = try await api.request(.get, "/view/\(workspace)/\(conversation)?auth_token=\(signature)&view_as=u-42", as: .none)
                #expect(page.status == .ok)
                #expect(page.text.contains("It is 4."))
                #expect(page.text.contains("What is **2+2**?"))
                #expect(page.text.contains("\"mine\":\"user\""))
                #expect(!page.text.contains("<textarea"), "no composer")
                #expect(page.headers[.contentSecurityPolicy]?.contains("frame-ancestors https://app.example.com") == true)

                let wrong = String(signature.reversed())
                for query in ["auth_token=\(wrong)", "", "auth_token=short", "auth_token=\(signature)&valid_until=99999999999999"] {
                    let refused = try await api.request(.get, "/view/\(workspace)/\(conversation)?\(query)", as: .none)
                    #expect(refused.status == .forbidden, "\(query)")
                    #expect(refused.text.contains("not valid"), "\(query)")
                    #expect(!refused.text.contains("It is 4."), "\(query)")
                }
                let otherWorkspace = try await api.request(.get, "/view/nope/\(conversation)?auth_token=\(signature)", as: .none)
                #expect(otherWorkspace.status == .forbidden)
                let polled = try await api.request(.get, "/view/\(workspace)/\(conversation)/messages?auth_token=\(signature)", as: .none)
                #expect((polled["data"] as? [[String: Any]])?.count == 2)
                let refusedPoll = try await api.request(.get, "/view/\(workspace)/\(conversation)/messages?auth_token=\(wrong)", as: .none)
                #expect(refusedPoll.errorCode == "invalid_signature")
            }
        }
    }

    @Test func expiringLinksExpireAndCanBeRequired() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["ok"]) }
        let server = TestServer()
        try await upstream.run { base in
            try await server.run { api throws in
                let (chat, conversation) = try await conversationWithReply(api, base: base)
                let workspace = chat.tenant.workspace
                let link = try await api.request(
                    .post, "/admin/v1/workspaces/\(workspace)/conversations/\(conversation)/view-link", json: ["view_as": "u-42", "ttl_seconds": 600])
                let url = try #require(link.string("url").flatMap(URLComponents.init(string:)))
                #expect(url.path == "/view/\(workspace)/\(conversation)")
                let path = url.path + "?" + (url.percentEncodedQuery ?? "")
                #expect(try await api.request(.get, path, as: .none).status == .ok)
                server.clock.advance(by: 601)
                let expired = try await api.request(.get, path, as: .none)
                #expect(expired.status == .forbidden)
                #expect(expired.text.contains("expired"))
                #expect(try await api.request(.get, url.path + "/messages?" + (url.percentEncodedQuery ?? ""), as: .none).errorCode == "link_expired")

                _ = try await api.request(.patch, "/admin/v1/workspaces/\(workspace)", json: ["settings": ["require_view_expiry": true]])
                let forever = try await api.request(.post, "/admin/v1/workspaces/\(workspace)/conversations/\(conversation)/view-link", json: [:])
                #expect(forever.errorParam == "ttl_seconds")
                let secret = try #require(try await api.request(.get, "/admin/v1/workspaces/\(workspace)/view-secret").string("view_secret"))
                let unexpiring = ViewSignature.sign(secret: secret, conversationID: conversation, validUntil: nil)
                #expect(try await api.request(.get, "/view/\(workspace)/\(conversation)?auth_token=\(unexpiring)", as: .none).status == .forbidden)
            }
        }
    }

    @Test func rotatingTheViewSecretInvalidatesOldLinks() async throws {
        let upstream = ScriptedUpstream { _ in FakeProvider.openAI(["ok"]) }
        try await upstream.run { base in
            try await TestServer().run { api throws in
                let (chat, conversation) = try await conversationWithReply(api, base: base)
                let workspace = chat.tenant.workspace
                let link = try await api.request(.post, "/admin/v1/workspaces/\(workspace)/conversations/\(conversation)/view-link", json: [:])
                let url = try #require(link.string("url").flatMap(URLComponents.init(string:)))
                let path = url.path + "?" + (url.percentEncodedQuery ?? "")
                #expect(try await api.request(.get, path, as: .none).status == .ok)
                let rotated = try await api.request(.post, "/admin/v1/workspaces/\(workspace)/view-secret/rotate")
                #expect(rotated.string("view_secret")?.count == 64)
                #expect(try await api.request(.get, path, as: .none).status == .forbidden)
                let unknown = try await api.request(.post, "/admin/v1/workspaces/\(workspace)/conversations/conv_nope/view-link", json: [:])
                #expect(unknown.errorCode == "not_found")
            }
        }
    }

    @Test func modelTextCannotBreakOutOfThePagesData() throws {
        let json = try HTMLPage.scriptJSON(["content": "</script><script>alert(1)</script>&\u{2028}"])
        #expect(!json.contains("<") && !json.contains(">") && !json.contains("&") && !json.contains("\u{2028}"))
        #expect(HTMLPage.escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
    }
}
