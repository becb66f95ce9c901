import Foundation
import HTTPTypes
import Testing

@testable import Parley

/// DESIGN.md §7: workspaces, API keys and bots through the admin API.
@Suite struct AdminAPITests {
    @Test func workspaceLifecycle() async throws {
        try await TestServer().run { api throws in
            let created = try await api.request(
                .post, "/admin/v1/workspaces",
                json: ["name": "Acme", "allowed_origins": ["https://App.Example.com:443/", "http://localhost:3000"],
                       "settings": ["max_token_ttl": 7200]])
            #expect(created.status == .created)
            let id = try #require(created.string("id"))
            #expect(id.hasPrefix("ws_") && id.count == 23)
            #expect(created["allowed_origins"] as? [String] == ["https://app.example.com", "http://localhost:3000"])
            let settings = try #require(created["settings"] as? [String: Any])
            #expect(settings["max_token_ttl"] as? Int == 7200)
            #expect(settings["default_token_ttl"] as? Int == 3600)
            #expect(settings.keys.contains("daily_output_token_budget"))
            #expect(created.json.keys.contains("default_bot_id"))

            let patched = try await api.request(
                .patch, "/admin/v1/workspaces/\(id)", json: ["name": "Acme Corp", "settings": ["messages_per_minute": 5]])
            #expect(patched.string("name") == "Acme Corp")
            let patchedSettings = try #require(patched["settings"] as? [String: Any])
            #expect(patchedSettings["messages_per_minute"] as? Int == 5)
            #expect(patchedSettings["max_token_ttl"] as? Int == 7200, "settings not named keep their values")

            #expect(try await api.request(.get, "/admin/v1/workspaces/\(id)").string("name") == "Acme Corp")
            let list = try await api.request(.get, "/admin/v1/workspaces")
            #expect((list["data"] as? [[String: Any]])?.contains { $0["id"] as? String == id } == true)
            #expect(list.json.keys.contains("next_cursor"))

            #expect(try await api.request(.delete, "/admin/v1/workspaces/\(id)").status == .noContent)
            let gone = try await api.request(.get, "/admin/v1/workspaces/\(id)")
            #expect(gone.status == .notFound)
            #expect(gone.errorCode == "workspace_not_found")
            #expect(try await api.request(.delete, "/admin/v1/workspaces/\(id)").errorCode == "workspace_not_found")
        }
    }

    @Test func workspaceIDsChosenByTheAdminAreCheckedAndUnique() async throws {
        try await TestServer().run { api throws in
            #expect(try await api.request(.post, "/admin/v1/workspaces", json: ["id": "W123", "name": "A"]).status == .created)
            let again = try await api.request(.post, "/admin/v1/workspaces", json: ["id": "W123", "name": "B"])
            #expect(again.status == .conflict)
            #expect(again.errorCode == "conflict")
            for bad in ["has space", "", String(repeating: "x", count: 65), "ünï"] {
                let response = try await api.request(.post, "/admin/v1/workspaces", json: ["id": bad, "name": "A"])
                #expect(response.errorCode == "invalid_request")
                #expect(response.errorParam == "id")
            }
        }
    }

    @Test func workspaceInputIsValidated() async throws {
        try await TestServer().run { api throws in
            let badOrigin = try await api.request(
                .post, "/admin/v1/workspaces", json: ["name": "A", "allowed_origins": ["https://ok.example", "https://x.example/path"]])
            #expect(badOrigin.errorParam == "allowed_origins[1]")
            let unknownSetting = try await api.request(.post, "/admin/v1/workspaces", json: ["name": "A", "settings": ["colour": "red"]])
            #expect(unknownSetting.errorParam == "settings.colour")
            let wrongType = try await api.request(
                .post, "/admin/v1/workspaces", json: ["name": "A", "settings": ["max_token_ttl": "long"]])
            #expect(wrongType.errorParam == "settings.max_token_ttl")
            let outOfRange = try await api.request(
                .post, "/admin/v1/workspaces", json: ["name": "A", "settings": ["default_token_ttl": 7200, "max_token_ttl": 3600]])
            #expect(outOfRange.errorParam == "settings.default_token_ttl")
            let noName = try await api.request(.post, "/admin/v1/workspaces", json: ["id": "x"])
            #expect(noName.errorParam == "name")
        }
    }

    @Test func apiKeysAreShownOnceAndStoredOnlyAsHashes() async throws {
        let server = TestServer()
        try await server.run { api throws in
            let workspace = try await api.createWorkspace()
            _ = try await api.createBot(workspace: workspace)
            let created = try await api.request(
                .post, "/admin/v1/workspaces/\(workspace)/api-keys", json: ["name": "backend", "scope": "tokens"])
            #expect(created.status == .created)
            let key = try #require(created.string("key"))
            #expect(key.hasPrefix("sk_live_") && key.count == 8 + 32)
            #expect(created.string("prefix") == String(key.prefix(12)))
            #expect(created.string("scope") == "tokens")

            let listed = try await api.request(.get, "/admin/v1/workspaces/\(workspace)/api-keys")
            let row = try #require((listed["data"] as? [[String: Any]])?.first)
            #expect(row["key"] == nil, "the key is never shown again")
            #expect(row["prefix"] as? String == String(key.prefix(12)))
            #expect(!listed.text.contains(key))
            #expect(row["last_used_at"] is NSNull)

            _ = try await api.mint(key: key, workspace: workspace)
            let used = try await api.request(.get, "/admin/v1/workspaces/\(workspace)/api-keys")
            #expect((used["data"] as? [[String: Any]])?.first?["last_used_at"] is String)

            let keyID = try #require(row["id"] as? String)
            #expect(try await api.request(.delete, "/admin/v1/workspaces/\(workspace)/api-keys/\(keyID)").status == .noContent)
            let afterRevoke = try await api.generateToken(key: key, workspace: workspace)
            #expect(afterRevoke.status == .unauthorized)
            #expect(afterRevoke.errorCode == "invalid_api_key")
            #expect(try await api.request(.delete, "/admin/v1/workspaces/\(workspace)/api-keys/key_nope").errorCode == "not_found")
        }
        #expect(!server.logs.text.contains("sk_live_"), "no API key reaches a log line")
    }

    /// A key that has just been used (and so is held in memory) stops working the moment it is
    /// revoked.
    @Test func aKeyInUseIsRefusedRightAfterItIsRevoked() async throws {
        try await TestServer().run { api throws in
            let tenant = try await Tenant.make(api)
            let (workspace, key) = (tenant.workspace, tenant.key)
            _ = try await api.mint(key: key, workspace: workspace)
            _ = try await api.mint(key: key, workspace: workspace)
            let keyID = try #require(
                (try await api.request(.get, "/admin/v1/workspaces/\(workspace)/api-keys")["data"] as? [[String: Any]])?.first?["id"]
                    as? String)
            #expect(try await api.request(.delete, "/admin/v1/workspaces/\(workspace)/api-keys/\(keyID)").status == .noContent)
            let refused = try await api.generateToken(key: key, workspace: workspace)
            #expect(refused.status == .unauthorized)
            #expect(refused.errorCode == "invalid_api_key")
        }
    }

    @Test func invalidAPIKeysAllGetOneIdenticalAnswer() async throws {
        try await TestServer().run { api throws in
            let workspace = try await api.createWorkspace()
            let revokedKey = try await api.createAPIKey(workspace: workspace)
            let keyID = try #require(
                (try await api.request(.get, "/admin/v1/workspaces/\(workspace)/api-keys")["data"] as? [[String: Any]])?.first?["id"]
                    as? String)
            _ = try await api.request(.delete, "/admin/v1/workspaces/\(workspace)/api-keys/\(keyID)")

            var bodies: Set<String> = []
            for presented in [
                "sk_live_" + RandomToken.base62(32),  // unknown
                "sk_live_short",  // malformed
                "sk_live_" + RandomToken.base62(31) + "!",  // malformed
                "sk_admin_" + RandomToken.base62(32),  // unknown operator key
                revokedKey,  // revoked
                "hello",
            ] {
                let response = try await api.generateToken(key: presented, workspace: workspace)
                #expect(response.status == .unauthorized)
                #expect(response.errorCode == "invalid_api_key")
                bodies.insert(response.text.replacingOccurrences(of: #"req_\w+"#, with: "req", options: .regularExpression))
            }
            #expect(bodies.count == 1, "unknown, malformed and revoked keys are indistinguishable")

            let missing = try await api.request(.post, "/api/v1/embed/generate-token", as: .none, json: ["workspaceId": workspace])
            #expect(missing.status == .unauthorized)
            #expect(missing.errorCode == "missing_token")
        }
    }

    @Test func scopesAndWorkspaceBoundaries() async throws {
        try await TestServer().run { api throws in
            let a = try await api.createWorkspace()
            let b = try await api.createWorkspace()
            let tokensKey = try await api.createAPIKey(workspace: a, scope: "tokens")
            let adminKeyA = try await api.createAPIKey(workspace: a, scope: "admin")

            let forbidden = try await api.request(.get, "/admin/v1/workspaces/\(a)/bots", as: .bearer(tokensKey))
            #expect(forbidden.status == .forbidden)
            #expect(forbidden.errorCode == "forbidden")

            #expect(try await api.request(.get, "/admin/v1/workspaces/\(a)/bots", as: .bearer(adminKeyA)).status == .ok)
            let otherWorkspace = try await api.request(.get, "/admin/v1/workspaces/\(b)/bots", as: .bearer(adminKeyA))
            #expect(otherWorkspace.status == .notFound)
            #expect(otherWorkspace.errorCode == "workspace_not_found")
            #expect(try await api.request(.get, "/admin/v1/workspaces/\(b)", as: .bearer(adminKeyA)).errorCode == "workspace_not_found")
            #expect(try await api.request(.post, "/admin/v1/workspaces/\(b)/api-keys", as: .bearer(adminKeyA),
                                          json: ["name": "x", "scope": "admin"]).errorCode == "workspace_not_found")

            let listed = try await api.request(.get, "/admin/v1/workspaces", as: .bearer(adminKeyA))
            #expect((listed["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [a], "a workspace key sees only its own")

            let create = try await api.request(.post, "/admin/v1/workspaces", as: .bearer(adminKeyA), json: ["name": "mine"])
            #expect(create.errorCode == "forbidden")
            #expect(try await api.request(.delete, "/admin/v1/workspaces/\(a)", as: .bearer(adminKeyA)).errorCode == "forbidden")
            #expect(try await api.request(.delete, "/admin/v1/workspaces/\(b)", as: .bearer(adminKeyA)).errorCode == "workspace_not_found")
            let patched = try await api.request(.patch, "/admin/v1/workspaces/\(a)", as: .bearer(adminKeyA), json: ["name": "Renamed"])
            #expect(patched.string("name") == "Renamed", "a workspace admin key manages its own workspace")
        }
    }

    @Test func botsKeepTheProviderKeyWriteOnly() async throws {
        let server = TestServer()
        let providerKey = "sk-proj-" + RandomToken.base62(40)
        try await server.run { api throws in
            let workspace = try await api.createWorkspace()
            let created = try await api.request(
                .post, "/admin/v1/workspaces/\(workspace)/bots",
                json: [
                    "name": "Support", "system_prompt": "Be brief.\nBe kind.", "temperature": 0.3,
                    "provider": ["kind": "anthropic", "api_key": providerKey, "model": "claude-sonnet"],
                    "theme": ["primary_color": "#1f6feb", "position": "bottom-left"],
                ])
            #expect(created.status == .created, "\(created.text)")
            #expect(!created.text.contains(providerKey))
            let bot = try #require(created.string("id"))
            let provider = try #require(created["provider"] as? [String: Any])
            #expect(provider["api_key"] == nil)
            #expect(provider["api_key_set"] as? Bool == true)
            #expect(provider["api_key_last4"] as? String == String(providerKey.suffix(4)))
            #expect(provider["base_url"] as? String == "https://api.anthropic.com/v1")
            #expect(created["is_default"] as? Bool == true, "the first bot is the default")
            #expect(created["max_output_tokens"] as? Int == 1024)

            let second = try await api.createBot(workspace: workspace)
            let read = try await api.request(.get, "/admin/v1/workspaces/\(workspace)/bots/\(second)")
            #expect(read["is_default"] as? Bool == false)

            let patched = try await api.request(
                .patch, "/admin/v1/workspaces/\(workspace)/bots/\(bot)",
                json: ["temperature": NSNull(), "provider": ["api_key": NSNull(), "model": "claude-haiku"], "greeting": "Hey"])
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(patched["temperature"] is NSNull)
            #expect((patched["provider"] as? [String: Any])?["api_key_set"] as? Bool == false)
            #expect((patched["provider"] as? [String: Any])?["model"] as? String == "claude-haiku")
            #expect(patched.string("greeting") == "Hey")
            #expect(patched.string("system_prompt") == "Be brief.\nBe kind.")

            let makeDefault = try await api.request(.patch, "/admin/v1/workspaces/\(workspace)/bots/\(second)", json: ["is_default": true])
            #expect(makeDefault["is_default"] as? Bool == true)
            #expect(try await api.request(.get, "/admin/v1/workspaces/\(workspace)").string("default_bot_id") == second)

            #expect(try await api.request(.delete, "/admin/v1/workspaces/\(workspace)/bots/\(second)").status == .noContent)
            #expect(try await api.request(.get, "/admin/v1/workspaces/\(workspace)").string("default_bot_id") == bot,
                    "deleting the default hands the role to a remaining bot")
            let list = try await api.request(.get, "/admin/v1/workspaces/\(workspace)/bots")
            #expect((list["data"] as? [[String: Any]])?.count == 1)
            #expect(try await api.request(.get, "/admin/v1/workspaces/\(workspace)/bots/\(second)").errorCode == "not_found")
            #expect(try server.dataDirectoryBytes().range(of: Data(providerKey.utf8)) == nil)
        }
        #expect(!server.logs.text.contains(providerKey))
    }

    @Test func botInputIsValidated() async throws {
        try await TestServer().run { api throws in
            let workspace = try await api.createWorkspace()
            let path = "/admin/v1/workspaces/\(workspace)/bots"
            let base: [String: Any] = ["name": "B", "provider": ["kind": "openai", "model": "m"]]
            func post(_ changes: [String: Any]) async throws -> APIResponse {
                try await api.request(.post, path, json: base.merging(changes) { $1 })
            }
            #expect(try await post(["provider": ["kind": "cohere", "model": "m"]]).errorParam == "provider.kind")
            #expect(try await post(["provider": ["kind": "openai"]]).errorParam == "provider.model")
            #expect(try await post(["provider": ["kind": "openai", "model": "m", "base_url": "ftp://x"]]).errorParam == "provider.base_url")
            #expect(try await post(["provider": ["kind": "openai", "model": "m", "base_url": "https://u:p@x.example/v1"]]).errorParam
                == "provider.base_url")
            #expect(try await post(["temperature": 3]).errorParam == "temperature")
            #expect(try await post(["max_output_tokens": 0]).errorParam == "max_output_tokens")
            #expect(try await post(["theme": ["primary_color": "red"]]).errorParam == "theme.primary_color")
            #expect(try await post(["theme": ["position": "top"]]).errorParam == "theme.position")
            #expect(try await post([:]).status == .created)
        }
    }
}
