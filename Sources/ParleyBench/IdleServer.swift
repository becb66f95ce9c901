import ArgumentParser
import Hummingbird

/// The floor for Parley's idle memory: a Hummingbird server with one route and nothing else, on
/// the same runtime (Swift, Foundation, SwiftNIO). Whatever this holds resident after starting,
/// Parley holds too before it has done any work of its own.
struct IdleServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle-server",
        abstract: "Serves GET /readyz and nothing else, to be measured at rest."
    )

    @OptionGroup var listener: LoopbackListener

    func run() async throws {
        let router = Router()
        router.get("readyz") { _, _ in "ok" }
        let app = Application(router: router, configuration: listener.configuration)
        try await app.runService()
    }
}
