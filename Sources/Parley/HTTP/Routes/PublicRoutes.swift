import Hummingbird
import Logging

/// Routes anyone may call: liveness, readiness and the public signing keys.
struct PublicRoutes {
    let services: ParleyServices

    struct Status: Encodable {
        var status: String
    }

    func register(on router: Router<ParleyRequestContext>) {
        router.get("/healthz") { _, _ in
            try JSONBody.response(Status(status: "ok"))
        }
        router.get("/readyz") { _, _ in
            if services.storageHealth.isFull { throw ParleyError.storageFull }
            guard await services.storage.isReachable() else { throw ParleyError.unavailable(retryAfter: 5) }
            return try JSONBody.response(Status(status: "ready"))
        }
        router.get("/.well-known/jwks.json") { _, _ in
            // Verifiers may cache the set for a few minutes: a rotated key signs only after
            // `parley keys rotate`, and the old key stays published while its tokens live.
            try JSONBody.response(try await services.keyRing.jwks(), headers: [.cacheControl: "public, max-age=300"])
        }
    }
}
