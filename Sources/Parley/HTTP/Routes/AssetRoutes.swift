import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The browser assets compiled in from `Public/` (`EmbeddedPublicFiles`), served with a strong
/// `ETag` and a short cache lifetime, so a new deploy reaches every page within minutes while
/// repeat loads cost a 304.
struct AssetRoutes {
    /// One served file, its validator computed once at start.
    struct Asset: Sendable {
        let body: ByteBuffer
        /// The same bytes gzip-compressed once at start, for clients that accept it.
        let gzipped: ByteBuffer?
        let contentType: String
        let etag: String

        init(_ text: String, contentType: String) {
            self.body = ByteBuffer(string: text)
            self.gzipped = Gzip.compress(Array(text.utf8)).map { ByteBuffer(bytes: $0) }
            self.contentType = contentType
            self.etag = "\"" + Data(SHA256.hash(data: Data(text.utf8))).prefix(12).base64URLEncoded + "\""
        }
    }

    /// The files served at the root, by path: the widget and the assets of Parley's own pages.
    static let served: [String: Asset] = {
        var assets: [String: Asset] = [:]
        for (path, type) in [
            ("widget.js", "text/javascript; charset=utf-8"), ("embedded-chat.js", "text/javascript; charset=utf-8"),
            ("view.js", "text/javascript; charset=utf-8"), ("pages.css", "text/css; charset=utf-8"),
            ("openapi.json", "application/json"),
        ] {
            if let text = EmbeddedPublicFiles.all[path] { assets[path] = Asset(text, contentType: type) }
        }
        return assets
    }()

    func register(on router: Router<ParleyRequestContext>) {
        for (path, asset) in Self.served {
            router.get(RouterPath(stringLiteral: "/" + path)) { request, _ in Self.serve(asset, request: request) }
        }
    }

    static func serve(_ asset: Asset, request: Request, cacheControl: String = "public, max-age=300") -> Response {
        var headers = HTTPFields()
        headers[.eTag] = asset.etag
        headers[.cacheControl] = cacheControl
        // Loaded by <script> from customers' pages: say so, so a strict page may embed it.
        headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "cross-origin"
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        headers[.vary] = "Accept-Encoding"
        if let gzipped = asset.gzipped, acceptsGzip(request.headers[.acceptEncoding]) {
            headers[.contentEncoding] = "gzip"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: gzipped))
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
    }

    /// `gzip` is listed and not refused with `q=0`.
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { part in
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard pieces.first == "gzip" || pieces.first == "*" else { return false }
            return !pieces.dropFirst().contains { $0.replacingOccurrences(of: " ", with: "") == "q=0" }
        }
    }
}
