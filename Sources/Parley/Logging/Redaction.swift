import Foundation
import Logging

/// Keeps credentials out of logs.
///
/// Two layers: request logging redacts the values of `token`, `auth_token` and similar query
/// parameters before the URI is logged; and `RedactingLogHandler` scrubs anything shaped like an
/// API key or a JWT from every message and metadata value, whoever logged it.
enum Redaction {
    static let sensitiveQueryNames: Set<String> = ["token", "auth_token", "key", "api_key", "access_token"]
    static let placeholder = "[REDACTED]"

    /// `path?token=eyJ…&theme=dark` → `path?token=[REDACTED]&theme=dark`.
    static func redactQuery(_ uri: String) -> String {
        guard let question = uri.firstIndex(of: "?") else { return uri }
        let path = uri[..<question]
        let pairs = uri[uri.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let name = pair.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            return sensitiveQueryNames.contains(name.lowercased()) ? "\(name)=\(placeholder)" : String(pair)
        }
        return "\(path)?\(pairs.joined(separator: "&"))"
    }

    /// Replaces API keys (`sk_live_…`, `sk_admin_…`) and anything that looks like a compact JWT.
    static func scrub(_ text: String) -> String {
        guard text.contains("sk_") || text.contains("eyJ") else { return text }
        var result = text
        for pattern in patterns {
            let range = NSRange(result.startIndex..., in: result)
            result = pattern.stringByReplacingMatches(in: result, range: range, withTemplate: placeholder)
        }
        return result
    }

    private static let patterns: [NSRegularExpression] = [
        try! NSRegularExpression(pattern: "sk_(live|admin)_[A-Za-z0-9]+"),
        try! NSRegularExpression(pattern: "eyJ[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*"),
    ]

    static func scrub(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text): .string(scrub(text))
        case .stringConvertible(let convertible): .string(scrub(convertible.description))
        case .array(let values): .array(values.map(scrub))
        case .dictionary(let values): .dictionary(values.mapValues(scrub))
        }
    }
}

/// Wraps another handler and scrubs credentials from what reaches it.
///
/// The logger's metadata (request id, workspace, user) is kept here and handed to the inner
/// handler with each event, scrubbed like the event's own. Kept in the inner handler instead,
/// every key set on a request's logger would make `StreamLogHandler` render all of its metadata
/// to text again, though most requests log nothing at all.
public struct RedactingLogHandler: LogHandler {
    private var inner: any LogHandler
    public var metadata: Logger.Metadata = [:]

    public init(wrapping inner: any LogHandler) {
        self.inner = inner
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(Redaction.scrub(event.message.description))"
        var merged = event.metadata.map { metadata.merging($0) { _, explicit in explicit } } ?? metadata
        // An error's description can quote a request; it is scrubbed like the rest.
        if let error = event.error {
            merged["error.message"] = .string("\(error)")
            merged["error.type"] = .string(String(reflecting: type(of: error)))
            event.error = nil
        }
        event.metadata = merged.isEmpty ? nil : merged.mapValues(Redaction.scrub)
        inner.log(event: event)
    }
}
