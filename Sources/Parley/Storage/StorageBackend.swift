import Logging
import ServiceLifecycle

/// Where Parley keeps its data: the stores every service reads and writes through, and what the
/// server needs of the backend besides them. `ParleyServices.start` opens the one backend (SQLite
/// today, `Storage/SQLite`); nothing above this seam names a database.
protocol StorageBackend: Sendable {
    var stores: Stores { get }

    /// Whether the backend answers a read now (`/readyz`).
    func isReachable() async -> Bool

    /// Which of the backend's errors say "not now" (busy, out of space) rather than a bug: those
    /// become 503 `unavailable`, and "full" also turns readiness off (`StorageHealth`).
    func refusal(_ error: any Error) -> StorageHealth.Refusal?

    /// What the backend needs running while the server serves; started with the server and
    /// stopped after it.
    func backgroundServices(logger: Logger) throws -> [any Service]
}
