import CurlStream
import Foundation
import Hummingbird
import Logging
import Testing

@testable import Parley

/// `/openapi.json` describes exactly the routes the server has.
@Suite struct OpenAPITests {
    static func documentedOperations() throws -> Set<String> {
        let text = try #require(EmbeddedPublicFiles.all["openapi.json"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        return Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let server = TestServer()
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        let services = try await ParleyServices.start(server.config, clock: server.clock.wallClock, logger: server.logs.logger())
        defer { services.curl.shutdown() }
        let routes = Set(buildRouter(services).routes.map { "\($0.method.rawValue) \($0.path)" })
        let documented = try Self.documentedOperations()
        #expect(routes.subtracting(documented).sorted() == [], "routes missing from openapi.json")
        #expect(documented.subtracting(routes).sorted() == [], "documented operations the server does not have")
        #expect(routes.count > 40)
    }

    @Test func theDocumentIsServed() async throws {
        try await TestServer().run { api throws in
            let response = try await api.request(.get, "/openapi.json", as: .none)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.string("openapi") == "3.1.0")
        }
    }
}
