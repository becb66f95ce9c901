import CurlStream
import ServiceLifecycle

/// Ties the libcurl reactor thread to the application's life: at graceful shutdown, after the
/// server has stopped taking requests, open transfers are failed and the thread ends.
struct CurlClientService: Service {
    let client: CurlClient

    func run() async throws {
        try? await gracefulShutdown()
        client.shutdown()
    }
}
