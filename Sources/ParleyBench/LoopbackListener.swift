import ArgumentParser
import Hummingbird

/// Where `make bench`'s helper servers (`idle-server`, `bare-relay`, `bare-mint`) listen: a port
/// on loopback, never another interface, since they check no credentials.
struct LoopbackListener: ParsableArguments {
    @Option(help: "Port on 127.0.0.1.")
    var port: Int

    var configuration: ApplicationConfiguration {
        .init(address: .hostname("127.0.0.1", port: port))
    }
}
