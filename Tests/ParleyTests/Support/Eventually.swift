import Foundation

/// Asks `condition` every `interval` until it holds or `timeout` has passed; returns whether it
/// held. For outcomes that arrive on their own time (a retry, a closed socket), so a test waits
/// only as long as it must.
func eventually(
    timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: interval)
    }
}
