import Foundation
import HTTPTypes
import HummingbirdTesting
import JWTKit
import Testing

@testable import Parley

/// The `parley` binary as an operator runs it, and the tasks behind its subcommands.
@Suite struct CommandLineTests {
    /// The debug binary `make test` builds before running the tests.
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["PARLEY_BINARY"] { return URL(fileURLWithPath: path) }
        return StorageTests.packageRoot.appendingPathComponent(".build/debug/parley")
    }

    struct Run {
        var status: Int32
        /// Standard output: what scripts capture.
        var standardOutput: String
        var standardError: String
        var output: String { standardOutput + standardError }
    }

    /// Runs `binary` with `arguments` in `directory` and waits for it.
    static func run(_ binary: URL, _ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws -> Run {
        let process = ChildProcess()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { $1 }
        let standardOutput = Pipe()
        let standardError = Pipe()
        process.standardOutput = standardOutput
        process.standardError = standardError
        try process.run()
        // Both outputs are small; stdout is drained first, stderr fits in the pipe's buffer.
        let output = standardOutput.fileHandleForReading.readDataToEndOfFile()
        let errors = standardError.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, standardOutput: String(decoding: output, as: UTF8.self),
            standardError: String(decoding: errors, as: UTF8.self))
    }

    static func scratchFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func aBinaryCopiedAloneStillMigrates() throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("parley")
        try FileManager.default.copyItem(at: Self.binary, to: copy)
        let result = try Self.run(copy, ["migrate", "--data-dir", "state"], in: folder)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("0001_initial"))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("state/parley.sqlite").path))
    }

    @Test func createKeyPrintsAWorkingOperatorKeyOnce() async throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try Self.run(Self.binary, ["admin", "create-key", "--data-dir", "state", "--name", "ops"], in: folder)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.standardOutput.split(separator: "\n").count == 1, "standard output is the key alone")
        let key = try #require(result.standardOutput.split(separator: "\n").first.map(String.init))
        #expect(result.standardError.contains("shown only this once"))
        #expect(APIKeySecret(parsing: key)?.kind == .admin)

        let server = TestServer(dataDirectory: folder.appendingPathComponent("state"))
        try await server.run { api throws in
            let response = try await api.request(.get, "/admin/v1/workspaces", as: .bearer(key))
            #expect(response.status == .ok, "the stored key authenticates")
        }
    }

    @Test func aBadSettingIsAClearErrorNotACrash() throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try Self.run(Self.binary, ["migrate"], in: folder, environment: ["PARLEY_PORT": "eighty"])
        #expect(result.status != 0)
        #expect(result.output.contains("PARLEY_PORT"))
    }

    /// The subcommands that only open the database list none of the server's flags, and every
    /// subcommand has an overview line.
    @Test func eachSubcommandShowsOnlyItsOwnOptions() throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for command in [["migrate"], ["backup"], ["keys", "rotate"], ["admin", "create-key"]] {
            let help = try Self.run(Self.binary, command + ["--help"], in: folder).output
            #expect(help.contains("--data-dir"), "\(command)")
            for flag in ["--host", "--port", "--public-url", "--allow-private-upstreams"] {
                #expect(!help.contains(flag), "\(command) lists \(flag)")
            }
        }
        let groups: [([String], [String])] = [
            (["admin", "workspaces"], ["list", "create"]), (["admin", "bots"], ["list", "show", "create", "update"]),
            (["admin", "api-keys"], ["list", "create", "revoke"]),
        ]
        for (command, subcommands) in groups {
            let help = try Self.run(Self.binary, command + ["--help"], in: folder).output
            let lines = (help.components(separatedBy: "SUBCOMMANDS:").dropFirst().first ?? "").split(separator: "\n")
            for subcommand in subcommands {
                let line = lines.first { $0.split(separator: " ").first.map(String.init) == subcommand }
                #expect((line?.split(separator: " ").count ?? 0) > 1, "\(command) \(subcommand): no overview line in \(help)")
            }
        }
    }

    /// A bot without a provider key is refused before anything is sent, unless `--no-key` says so;
    /// a backup of a folder with no database names the path; an unreachable server names the URL.
    @Test func operatorMistakesAreNamedAndRefused() throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let environment = ["PARLEY_ADMIN_KEY": "sk_admin_x", "PARLEY_URL": "http://127.0.0.1:9"]
        let keyless = try Self.run(
            Self.binary, ["admin", "bots", "create", "--workspace", "w", "--name", "B", "--model", "m"], in: folder, environment: environment)
        #expect(keyless.status != 0 && keyless.output.contains("--no-key"), "\(keyless.output)")
        let unreachable = try Self.run(
            Self.binary, ["admin", "bots", "create", "--workspace", "w", "--name", "B", "--model", "m", "--no-key"], in: folder, environment: environment)
        #expect(unreachable.status != 0 && unreachable.output.contains("http://127.0.0.1:9/admin/v1/workspaces/w/bots"), "\(unreachable.output)")
        let backup = try Self.run(Self.binary, ["backup", "--data-dir", "nowhere", "--to", "copy.sqlite"], in: folder)
        #expect(backup.status != 0 && backup.output.contains(folder.appendingPathComponent("nowhere/parley.sqlite").path), "\(backup.output)")
    }

    /// Starts `parley` with `--port 0` and learns the port from its "listening" log line, so
    /// parallel tests never race for a port.
    static func launch(_ arguments: [String], environment: [String: String] = [:]) async throws -> (process: ChildProcess, port: Int) {
        let process = ChildProcess()
        process.executableURL = binary
        process.arguments = arguments + ["--port", "0"]
        process.environment = ["PATH": "/usr/bin:/bin", "PARLEY_LOG_LEVEL": "notice"].merging(environment) { $1 }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let port = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            DispatchQueue.global().async {
                var seen = ""
                var resumed = false
                while true {
                    let data = pipe.fileHandleForReading.availableData
                    if data.isEmpty { break }  // the process ended
                    guard !resumed else { continue }  // keep draining so the server never blocks on a full pipe
                    seen += String(decoding: data, as: UTF8.self)
                    if let range = seen.range(of: #"parley\.address=\S*:\d+"#, options: .regularExpression),
                        let port = seen[range].split(separator: ":").last.flatMap({ Int($0) })
                    {
                        resumed = true
                        continuation.resume(returning: port)
                    }
                }
                if !resumed { continuation.resume(throwing: LaunchFailed(output: seen)) }
            }
        }
        return (process, port)
    }

    struct LaunchFailed: Error {
        var output: String
    }

    @Test func serveDrainsAndExitsZeroOnSIGTERM() async throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (process, port) = try await Self.launch(["serve", "--data-dir", folder.appendingPathComponent("state").path])
        let ready = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            try await client.get("/readyz").status == .ok
        }
        #expect(ready, "the server answered /readyz")
        process.terminate()  // SIGTERM
        await process.exited()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    @Test func theAdminSubcommandsSetUpAWorkspaceWithoutCurl() async throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let adminKey = "sk_admin_" + RandomToken.base62(32)
        let (server, port) = try await Self.launch(["serve", "--data-dir", folder.path], environment: ["PARLEY_ADMIN_KEY": adminKey])
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let environment = ["PARLEY_ADMIN_KEY": adminKey, "PARLEY_URL": "http://127.0.0.1:\(port)", "PROVIDER_KEY": "sk-from-the-environment-123456"]
        func parley(_ arguments: [String]) throws -> (Run, [String: Any]) {
            let run = try Self.run(Self.binary, arguments, in: folder, environment: environment)
            let json = (try? JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8))) as? [String: Any] ?? [:]
            return (run, json)
        }

        let (created, workspace) = try parley(["admin", "workspaces", "create", "--name", "Acme", "--id", "acme", "--origin", "https://app.acme.test"])
        #expect(created.status == 0, "\(created.output)")
        #expect(workspace["id"] as? String == "acme")
        #expect(workspace["allowed_origins"] as? [String] == ["https://app.acme.test"])
        let (_, bot) = try parley(["admin", "bots", "create", "--workspace", "acme", "--name", "Helper", "--model", "gpt-4o-mini", "--api-key-env", "PROVIDER_KEY"])
        #expect((bot["provider"] as? [String: Any])?["api_key_set"] as? Bool == true)
        let (_, key) = try parley(["admin", "api-keys", "create", "--workspace", "acme", "--name", "backend"])
        #expect((key["key"] as? String)?.hasPrefix("sk_live_") == true)
        let (listed, _) = try parley(["admin", "workspaces", "list"])
        #expect(listed.standardOutput.contains("\"acme\""))

        let (refused, _) = try parley(["admin", "api-keys", "create", "--workspace", "acme", "--name", "x", "--scope", "root"])
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("invalid_request"))

        // Bots: list, show, update with a system prompt and a greeting.
        let botID = try #require(bot["id"] as? String)
        let (bots, _) = try parley(["admin", "bots", "list", "--workspace", "acme"])
        #expect(bots.status == 0 && bots.standardOutput.contains(botID), "\(bots.output)")
        let (updated, changed) = try parley([
            "admin", "bots", "update", "--workspace", "acme", botID, "--system-prompt", "Answer in French.", "--greeting", "Bonjour !",
        ])
        #expect(updated.status == 0, "\(updated.output)")
        #expect(changed["system_prompt"] as? String == "Answer in French." && changed["greeting"] as? String == "Bonjour !")
        let (_, shown) = try parley(["admin", "bots", "show", "--workspace", "acme", botID])
        #expect(shown["system_prompt"] as? String == "Answer in French.")
        #expect((shown["provider"] as? [String: Any])?["model"] as? String == "gpt-4o-mini", "what update did not name stays")

        // API keys: list (never the secret), revoke, and the revoked key no longer mints.
        let keyID = try #require(key["id"] as? String)
        let secret = try #require(key["key"] as? String)
        let (keys, _) = try parley(["admin", "api-keys", "list", "--workspace", "acme"])
        #expect(keys.status == 0 && keys.standardOutput.contains(keyID) && !keys.standardOutput.contains(secret), "\(keys.output)")
        let (revoked, _) = try parley(["admin", "api-keys", "revoke", "--workspace", "acme", keyID])
        #expect(revoked.status == 0, "\(revoked.output)")
        let (afterRevoke, keysAfter) = try parley(["admin", "api-keys", "list", "--workspace", "acme"])
        let entry = (keysAfter["data"] as? [[String: Any]])?.first { $0["id"] as? String == keyID }
        #expect(entry?["revoked_at"] is String, "the list shows when the key was revoked: \(afterRevoke.output)")
    }

    /// "A new key" is logged only when one was made, with the kid that was made.
    @Test func keyRotationLogsNameTheKeyThatWasMade() throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let environment = ["PARLEY_LOG_LEVEL": "info"]
        let first = try Self.run(Self.binary, ["migrate", "--data-dir", "state"], in: folder, environment: environment)
        #expect(first.status == 0, "\(first.output)")
        let again = try Self.run(Self.binary, ["migrate", "--data-dir", "state"], in: folder, environment: environment)
        #expect(again.status == 0 && !again.output.contains("new key"), "an existing key is not news: \(again.output)")

        let rotated = try Self.run(Self.binary, ["keys", "rotate", "--data-dir", "state"], in: folder, environment: environment)
        #expect(rotated.status == 0, "\(rotated.output)")
        let printed = try #require(
            rotated.standardOutput.split(separator: " ").dropFirst(3).first?.split(separator: ";").first.map(String.init))
        #expect(printed.hasPrefix("sig_") && rotated.standardOutput.hasPrefix("new signing key \(printed);"))
        // Whatever it logs names no key but the one it printed (it used to log the old kid).
        let loggedKids = rotated.standardError.split(separator: " ").filter { $0.hasPrefix("parley.kid=") }
        #expect(loggedKids.allSatisfy { $0 == "parley.kid=\(printed)" }, "\(rotated.standardError)")
        let afterwards = try Self.run(Self.binary, ["migrate", "--data-dir", "state"], in: folder, environment: environment)
        #expect(!afterwards.output.contains("new key"), "\(afterwards.output)")
    }

    @Test func rotatedKeysSignNewTokensWhileOldOnesStayValidAndPublished() async throws {
        let server = TestServer()
        try await server.run { api throws in
            let tenant = try await Tenant.make(api)
            let before = try await api.mint(key: tenant.key, workspace: tenant.workspace)
            let newKid = try await OperatorTasks.rotateSigningKey(server.config, clock: server.clock.wallClock)
            server.clock.advance(by: 31)  // the running server re-reads its keys every 30 s
            let after = try await api.mint(key: tenant.key, workspace: tenant.workspace)

            let kid = { (token: String) in
                (try? JSONSerialization.jsonObject(with: Data(base64URLEncoded: token.split(separator: ".")[0])!) as? [String: Any])?["kid"]
                    as? String
            }
            #expect(kid(after) == newKid)
            #expect(kid(before) != newKid)
            #expect(try await api.session(before).status == .ok, "tokens signed by the retired key still work")
            #expect(try await api.session(after).status == .ok)

            let jwks = try await api.request(.get, "/.well-known/jwks.json", as: .none)
            let kids = Set(((jwks["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String })
            #expect(kids == Set([kid(before), kid(after)].compactMap { $0 }))
            let verifier = JWTKeyCollection()
            try await verifier.add(jwksJSON: jwks.text)
            _ = try await verifier.verify(before, as: EmbedTokenClaims.self)
            _ = try await verifier.verify(after, as: EmbedTokenClaims.self)

            server.clock.advance(by: 3600)
            let later = try await api.request(.get, "/.well-known/jwks.json", as: .none)
            let laterKids = ((later["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String }
            #expect(laterKids == [newKid], "a retired key leaves the JWKS once its last token expired")
        }
    }
}
