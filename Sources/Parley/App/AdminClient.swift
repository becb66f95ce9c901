import CurlStream
import Foundation

/// The admin API from the command line: `parley admin workspaces|api-keys|bots …` are thin
/// wrappers over the same HTTP endpoints a script would call, so the CLI can never drift from
/// the API's checks and audit.
public struct AdminClient: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var status: Int
        public var body: String
        public var description: String { "HTTP \(status): \(body)" }
    }

    /// No answer at all: the server is down, the URL is wrong, or the connection broke.
    public struct Unreachable: Error, CustomStringConvertible {
        public var url: String
        public var reason: String
        public var description: String { "cannot reach Parley at \(url): \(reason)" }
    }

    let baseURL: String
    let adminKey: String
    let http: CurlClient

    /// - Parameters:
    ///   - baseURL: where Parley listens, e.g. `http://127.0.0.1:8080`.
    ///   - adminKey: an operator key or an `admin`-scoped workspace key.
    public init(baseURL: String, adminKey: String, http: CurlClient = CurlClient()) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.adminKey = adminKey
        self.http = http
    }

    /// Sends one request and returns the JSON body as pretty-printed text.
    ///
    /// - Throws: `Failure` with Parley's error body for any answer that is not 2xx; `Unreachable`,
    ///   naming the URL, when no answer came.
    public func call(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> String {
        var headers = [(name: "Authorization", value: "Bearer \(adminKey)")]
        var bytes: [UInt8]?
        if let body {
            headers.append((name: "Content-Type", value: "application/json"))
            bytes = Array(try JSONSerialization.data(withJSONObject: body))
        }
        let url = baseURL + path
        let response: CurlResponse
        let data: Data
        do {
            response = try await http.execute(CurlRequest(url: url, method: method, headers: headers, body: bytes, timeouts: .init(firstByte: .seconds(30))))
            data = Data(try await response.body.collect(upTo: 16 << 20))
        } catch let error as CurlError {
            throw Unreachable(url: url, reason: error.description)
        }
        let text: String
        if let object = try? JSONSerialization.jsonObject(with: data),
            let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        {
            text = String(decoding: pretty, as: UTF8.self)
        } else {
            text = String(decoding: data, as: UTF8.self)
        }
        guard (200..<300).contains(response.status) else { throw Failure(status: response.status, body: text) }
        return text
    }
}
