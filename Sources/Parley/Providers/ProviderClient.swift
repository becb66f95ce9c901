import CurlStream
import Foundation
import Logging

/// Streams one reply from a workspace's provider through `CurlClient`, with the contract's
/// retry and error rules.
///
/// Retries happen only while nothing has reached the client: up to two for 5xx answers and
/// connection failures (with jittered backoff), one for a 429 whose `Retry-After` is at most
/// 5 s. A provider's error body is logged, truncated and with the key scrubbed, and never
/// relayed.
struct ProviderClient: Sendable {
    let http: CurlClient
    let upstreamGuard: UpstreamGuard
    var timeouts = CurlTimeouts()
    var maxErrorBodyBytes = 64 * 1024
    var maxLineBytes = 1 << 20
    /// Pauses between retries; tests may shorten them.
    var backoff: @Sendable (Int) -> Duration = { attempt in
        .milliseconds(Int.random(in: 150...350) * (1 << attempt))
    }

    /// Streams the reply to `request`, calling `emit` for each event in order.
    ///
    /// - Throws: `ProviderFailure` with the contract's code; `CancellationError` when the task
    ///   is cancelled (the transfer is aborted).
    func stream(_ request: ProviderRequest, logger: Logger, emit: (ProviderEvent) async throws -> Void) async throws {
        var emitted = false
        var serverRetries = 0
        var rateLimitRetried = false
        while true {
            do {
                try await attempt(request, logger: logger) { event in
                    if case .delta = event { emitted = true }
                    try await emit(event)
                }
                return
            } catch let failure as ProviderFailure {
                guard !emitted else { throw failure }
                if failure.code == .upstreamRateLimited, !rateLimitRetried, let wait = failure.retryAfter, wait <= .seconds(5) {
                    rateLimitRetried = true
                    logger.notice(
                        "provider rate-limited; retrying once",
                        metadata: ["parley.retry_after_ms": "\(wait.wholeMilliseconds)", "parley.cause": "\(failure.cause ?? "")"])
                    try await Task.sleep(for: wait)
                    continue
                }
                if failure.retryable, serverRetries < 2 {
                    serverRetries += 1
                    logger.notice(
                        "provider failed; retrying",
                        metadata: [
                            "parley.attempt": "\(serverRetries)", "parley.code": "\(failure.code.rawValue)",
                            "parley.cause": "\(failure.cause ?? "")",
                        ])
                    try await Task.sleep(for: backoff(serverRetries))
                    continue
                }
                throw failure
            }
        }
    }

    private func attempt(_ request: ProviderRequest, logger: Logger, emit: (ProviderEvent) async throws -> Void) async throws {
        let adapter = request.kind.adapter
        let url = adapter.endpoint(baseURL: request.baseURL)
        let resolve: [String]
        switch await upstreamGuard.check(url) {
        case .allowed(let pins): resolve = pins
        case .forbidden(let reason):
            logger.warning("provider URL refused", metadata: ["parley.reason": "\(reason)"])
            throw ProviderFailure.upstream("The provider's address is not allowed.", cause: "address refused: \(reason)")
        case .unresolvable:
            throw ProviderFailure.upstream(
                "The provider's host could not be resolved.", retryable: true, cause: "DNS resolution failed (no address for the host)")
        }
        let started = ContinuousClock.now
        let response: CurlResponse
        do {
            response = try await http.execute(
                CurlRequest(url: url, method: "POST", headers: adapter.headers(apiKey: request.apiKey), body: try adapter.body(for: request),
                            timeouts: timeouts, resolve: resolve))
        } catch let error as CurlError {
            throw Self.failure(for: error)
        }
        guard (200..<300).contains(response.status) else {
            let body = (try? await response.body.collect(upTo: maxErrorBodyBytes)) ?? []
            let failure = Self.failure(status: response.status, body: body, retryAfter: response.header("retry-after"))
            logger.warning(
                "provider answered an error",
                metadata: [
                    "parley.status": "\(response.status)", "parley.code": "\(failure.code.rawValue)",
                    "parley.provider_body": "\(Self.redacted(body, apiKey: request.apiKey))",
                ])
            throw failure
        }
        let contentType = response.header("content-type") ?? ""
        if contentType.lowercased().hasPrefix("application/json") {
            logger.notice(
                "provider answered a streaming request with one JSON document; reading it as the whole reply",
                metadata: ["parley.content_type": "\(contentType)"])
            let body: [UInt8]
            do {
                body = try await response.body.collect(upTo: maxLineBytes)
            } catch let error as CurlError {
                throw Self.failure(for: error, midStream: true)
            }
            for event in try adapter.wholeReply(body) { try await emit(event) }
            return
        }
        try await readStream(response, parser: adapter.makeParser(), emit: emit)
        logger.debug("provider stream complete", metadata: ["parley.duration_ms": "\((ContinuousClock.now - started).wholeMilliseconds)"])
    }

    private func readStream<Parser: ProviderStreamParser>(
        _ response: CurlResponse, parser: Parser, emit: (ProviderEvent) async throws -> Void
    ) async throws {
        var parser = parser
        var decoder = ServerSentEventDecoder(maxLineBytes: maxLineBytes)
        var finished = false
        // Text that arrived together goes on together: under load one read holds several
        // chunks, and one delta event for them is cheaper all the way down.
        func send(_ events: [ProviderEvent]) async throws {
            for providerEvent in ProviderEvent.mergingAdjacentDeltas(events) {
                if case .finish = providerEvent { finished = true }
                try await emit(providerEvent)
            }
        }
        do {
            for try await chunk in response.body {
                var events: [ProviderEvent] = []
                do {
                    for event in try decoder.feed(chunk) {
                        events.append(contentsOf: try parser.parse(event))
                    }
                } catch {
                    // What was read before the bad event is the reply's text: keep it.
                    try await send(events)
                    throw error
                }
                try await send(events)
                if parser.isComplete { break }
            }
        } catch is ServerSentEventDecoder.LineTooLong {
            response.body.cancel()
            throw ProviderFailure.upstream("The provider sent a line longer than \(maxLineBytes) bytes.")
        } catch let error as CurlError {
            throw Self.failure(for: error, midStream: true)
        } catch let failure as ProviderFailure {
            response.body.cancel()
            throw failure
        }
        if parser.isComplete && !finished {
            try await emit(.finish(reason: "stop"))
            finished = true
        }
        guard finished else {
            throw ProviderFailure(code: .interrupted, message: "The provider's stream ended before the reply was finished.")
        }
    }

    static func failure(for error: CurlError, midStream: Bool = false) -> ProviderFailure {
        var failure: ProviderFailure =
            switch error {
            case .connectTimeout:
                .init(code: .upstreamTimeout, message: "The provider did not accept a connection in time.", retryable: true)
            case .firstByteTimeout, .idleTimeout, .totalTimeout:
                .init(code: .upstreamTimeout, message: "The provider stopped answering.")
            case .transport:
                .upstream(midStream ? "The connection to the provider broke." : "The provider could not be reached.", retryable: true)
            case .cancelled, .shutdown:
                .init(code: .interrupted, message: "The reply was interrupted.")
            }
        failure.cause = error.cause
        return failure
    }

    static func failure(status: Int, body: [UInt8], retryAfter: String?) -> ProviderFailure {
        var failure = failureWithoutCause(status: status, body: body, retryAfter: retryAfter)
        failure.cause = ["HTTP \(status)", errorType(in: body)].compactMap { $0 }.joined(separator: " ")
        return failure
    }

    /// The provider's own name for its error: `error.type` and `error.code` of an OpenAI or
    /// Anthropic error body (`invalid_request_error/context_length_exceeded`, `overloaded_error`).
    static func errorType(in body: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.prefix(64 * 1024))) as? [String: Any],
            let error = object["error"] as? [String: Any]
        else { return nil }
        let type = error["type"] as? String
        let code = error["code"] as? String
        let names = [type, code == type ? nil : code].compactMap { $0 }.filter { !$0.isEmpty }
        return names.isEmpty ? nil : String(names.joined(separator: "/").prefix(120))
    }

    private static func failureWithoutCause(status: Int, body: [UInt8], retryAfter: String?) -> ProviderFailure {
        switch status {
        case 401, 403:
            return .init(code: .providerAuthFailed, message: "The provider refused the workspace's API key.")
        case 429:
            let wait = retryAfter.flatMap(Int.init).map { Duration.seconds($0) }
            return .init(code: .upstreamRateLimited, message: "The provider is rate-limiting requests.", retryAfter: wait)
        case 400, 413, 422:
            let text = String(decoding: body.prefix(8192), as: UTF8.self).lowercased()
            let aboutContext = ["context length", "context_length", "context window", "maximum context", "prompt is too long", "too many tokens"]
                .contains { text.contains($0) }
            return aboutContext
                ? .init(code: .contextTooLong, message: "The conversation is too long for the model.")
                : .upstream("The provider rejected the request.")
        case 500...599:
            return .upstream("The provider failed.", retryable: true)
        default:
            return .upstream("The provider answered with status \(status).")
        }
    }

    /// A provider's error body for the log: at most 500 characters, the key and anything shaped
    /// like a credential removed.
    static func redacted(_ body: [UInt8], apiKey: String?) -> String {
        var text = String(decoding: body.prefix(2000), as: UTF8.self)
        if let apiKey, !apiKey.isEmpty { text = text.replacingOccurrences(of: apiKey, with: Redaction.placeholder) }
        text = text.replacingOccurrences(of: #"(sk|pk|key)-[A-Za-z0-9_\-]{8,}"#, with: Redaction.placeholder, options: .regularExpression)
        return String(Redaction.scrub(text).prefix(500))
    }
}
