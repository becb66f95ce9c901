import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Server-rendered HTML pages (the iframe chat, the read-only view, their error pages): one shell,
/// one Content-Security-Policy, one way to put data into a page.
///
/// Every page runs only scripts and stylesheets that carry its per-response nonce (`'unsafe-inline'`
/// and `'unsafe-eval'` are never allowed), talks only to Parley (`connect-src 'self'`), and may be
/// framed only by the origins given (`frame-ancestors`, `'none'` when there are none).
enum HTMLPage {
    struct Content {
        var title: String
        var lang = "en"
        var body: String
        /// Data for the page's script, as `<script type="application/json" id="parley-data">`.
        var data: (any Encodable)?
        var scripts: [String] = []
        var styles: [String] = ["/pages.css"]
    }

    static func response(_ content: Content, status: HTTPResponse.Status = .ok, frameAncestors: [String]) throws -> Response {
        let nonce = RandomToken.base62(24)
        var head = "<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        head += "<title>\(escape(content.title))</title>\n"
        for style in content.styles { head += "<link rel=\"stylesheet\" href=\"\(escape(style))\" nonce=\"\(nonce)\">\n" }
        if let data = content.data {
            head += "<script type=\"application/json\" id=\"parley-data\" nonce=\"\(nonce)\">\(try scriptJSON(data))</script>\n"
        }
        for script in content.scripts { head += "<script src=\"\(escape(script))\" nonce=\"\(nonce)\" defer></script>\n" }
        let direction = content.lang == "ar" ? "rtl" : "ltr"
        let html = "<!doctype html>\n<html lang=\"\(escape(content.lang))\" dir=\"\(direction)\">\n<head>\n\(head)</head>\n<body>\n\(content.body)\n</body>\n</html>\n"
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.contentSecurityPolicy] = contentSecurityPolicy(nonce: nonce, frameAncestors: frameAncestors)
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func contentSecurityPolicy(nonce: String, frameAncestors: [String]) -> String {
        [
            "default-src 'none'",
            "script-src 'nonce-\(nonce)'",
            "style-src 'nonce-\(nonce)'",
            "connect-src 'self'",
            "img-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors " + (frameAncestors.isEmpty ? "'none'" : frameAncestors.joined(separator: " ")),
        ].joined(separator: "; ")
    }

    /// A short page for a refusal (bad signature, expired link, bad token), with nothing to run.
    static func notice(_ title: String, _ message: String, status: HTTPResponse.Status) throws -> Response {
        try response(
            Content(title: title, body: "<main class=\"notice\"><h1>\(escape(title))</h1><p>\(escape(message))</p></main>"),
            status: status, frameAncestors: [])
    }

    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }

    /// JSON that is safe inside a `<script>` element: no `<`, `>` or `&` (so no `</script>`), and
    /// no U+2028/U+2029.
    static func scriptJSON(_ value: any Encodable) throws -> String {
        String(decoding: try JSONBody.encoder.encode(value), as: UTF8.self)
            .replacingOccurrences(of: "<", with: "\\u003c")
            .replacingOccurrences(of: ">", with: "\\u003e")
            .replacingOccurrences(of: "&", with: "\\u0026")
            .replacingOccurrences(of: "\u{2028}", with: "\\u2028")
            .replacingOccurrences(of: "\u{2029}", with: "\\u2029")
    }
}
