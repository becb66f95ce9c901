import Foundation
import Logging
import Synchronization

/// Generates one reply: reads the history, calls the provider, streams the events into the run,
/// saves the text as it grows and stores the outcome.
struct ReplyGenerator: Sendable {
    let store: any ChatStore
    let provider: ProviderClient
    let secretBox: SecretBox
    let clock: WallClock
    let logger: Logger
    var metrics: ParleyMetrics?
    /// Saves the text while it streams.
    let flusher: ReplyTextFlusher
    /// How many recent messages are read to build the context; bounds the read however long
    /// the conversation grows.
    var historyLimit = 200
    /// When set, replaces every bot's provider (`parley demo` with `OPENAI_API_KEY`).
    var providerOverride: ProviderOverride?
    /// Told when a reply's outcome could not be stored, and when it was.
    var storageHealth = StorageHealth()
    /// Pauses between attempts to store an outcome that storage refused; tests may shorten them.
    var outcomeRetryDelays: [Duration] = [.milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30)]

    /// Runs the reply of `pair`, whose two messages are stored: reads the conversation so far,
    /// streams the provider's answer into `run`, and stores the outcome before the terminal event.
    func generate(run: ReplyRun, pair: ReplyPair, bot: BotRecord) async {
        var logger = self.logger
        logger[metadataKey: "parley.message_id"] = .string(run.messageID)
        logger[metadataKey: "parley.workspace_id"] = .string(run.workspaceID)
        var message = pair.assistant
        var lifecycle = ReplyLifecycle(model: bot.model, maxOutputTokens: bot.maxOutputTokens)
        let text = ReplyText()
        let started = ContinuousClock.now
        var firstText: Duration?
        var (failureCause, providerHost): (String?, String?) = (nil, nil)
        do {
            run.append(.userMessage, ReplyPayload.UserMessage(message: MessageView(record: pair.user)))
            run.append(.started, ReplyPayload.Started(messageID: message.id, conversationID: message.conversationId, model: bot.model))
            let history = try await store.replyHistory(conversationID: pair.user.conversationId, limit: historyLimit)
            let request = try providerRequest(for: pair, bot: bot, history: history)
            providerHost = URL(string: request.baseURL)?.host
            _ = lifecycle.receive(.model(request.model))
            flusher.track(text, messageID: run.messageID)
            defer { flusher.forget(messageID: run.messageID) }
            try await provider.stream(request, logger: logger) { event in
                switch event {
                case .delta(let delta):
                    if firstText == nil { firstText = ContinuousClock.now - started }
                    switch lifecycle.receive(.delta(totalUTF8: text.append(delta))) {
                    case .cutOff(let failure): throw failure
                    case .relay, .none: run.appendDelta(delta)
                    }
                case .model(let model): _ = lifecycle.receive(.model(model))
                case .usage(let reported): _ = lifecycle.receive(.usage(reported))
                case .finish(let reason): _ = lifecycle.receive(.finish(reason: reason))
                }
            }
        } catch let error as ProviderFailure {
            failureCause = error.cause
            _ = lifecycle.receive(.failure(error))
        } catch {
            if !(error is CancellationError) && !run.cancelRequested {
                logger.error("reply failed", metadata: ["parley.error": "\(String(reflecting: error))"])
                _ = lifecycle.receive(.failure(.upstream("The reply could not be generated.")))
            }
        }
        if run.cancelRequested { _ = lifecycle.receive(.cancelRequested) }
        let outcome = lifecycle.outcome
        if outcome.status == .failed || outcome.status == .interrupted {
            logger.notice(
                "reply ended with an error",
                metadata: [
                    "parley.code": "\(outcome.errorCode ?? "")", "parley.cause": "\(failureCause ?? "")",
                    "parley.provider_host": "\(providerHost ?? "")",
                ])
        }
        message.content = text.current
        message.updatedAt = clock.nowMilliseconds
        (message.status, message.finishReason, message.errorCode) = (outcome.status, outcome.finishReason, outcome.errorCode)
        (message.model, message.inputTokens, message.outputTokens) = (outcome.model, outcome.inputTokens, outcome.outputTokens)
        message.terminalSeq = run.nextSeq
        let final = message
        // The outcome is stored even when this task was cancelled: run it in a task of its own.
        let refusal = await Task { [store] () -> (any Error)? in
            do {
                try await store.finishReply(final)
                return nil
            } catch {
                return error
            }
        }.value
        if let refusal {
            // The terminal event acknowledges the outcome: followers are told it is not stored,
            // with the text so far, while the outcome is kept and retried.
            storageHealth.record(refusal)
            logger.error(
                "could not store the end of a reply; retrying while the process runs",
                metadata: ["parley.error": "\(refusal)", "parley.status": "\(final.status?.rawValue ?? "")"])
            run.appendUnstored(final)
            retryStoring(final, logger: logger)
        } else {
            storageHealth.recordWrite()
            run.appendTerminal(for: final)
        }
        metrics?.reply(
            outcome: final.status?.rawValue ?? "unknown", timeToFirstToken: firstText, duration: ContinuousClock.now - started,
            usage: TokenUsage(inputTokens: final.inputTokens ?? 0, outputTokens: final.outputTokens ?? 0))
        logger.info(
            "reply finished",
            metadata: [
                "parley.status": "\(final.status?.rawValue ?? "")", "parley.output_tokens": "\(final.outputTokens ?? 0)",
                "parley.duration_ms": "\((ContinuousClock.now - started).wholeMilliseconds)",
            ])
    }

    /// Stores `outcome` in the background, with growing pauses, until storage takes it. Until
    /// then the row reads `streaming` (and `interrupted` after a restart, with the text the
    /// flusher had saved).
    private func retryStoring(_ outcome: MessageRecord, logger: Logger) {
        let (store, health, delays) = (self.store, storageHealth, outcomeRetryDelays)
        Task.detached {
            for attempt in 0... {
                try? await Task.sleep(for: delays[min(attempt, delays.count - 1)])
                do {
                    try await store.finishReply(outcome)
                    health.recordWrite()
                    logger.notice("stored the end of a reply that storage had refused", metadata: ["parley.attempts": "\(attempt + 2)"])
                    return
                } catch {
                    health.record(error)
                    if attempt % 10 == 9 {
                        logger.warning("still cannot store the end of a reply", metadata: ["parley.error": "\(error)"])
                    }
                }
            }
        }
    }

    private func providerRequest(for pair: ReplyPair, bot: BotRecord, history: [MessageRecord]) throws -> ProviderRequest {
        let messages = ContextWindow.select(
            // The history is read after the post's commit, so it ends with the post; the filter
            // keeps the post once, last, whatever the read saw.
            history: (history.filter { $0.id != pair.user.id } + [pair.user]).suffix(historyLimit).map { ProviderRequest.Message(role: $0.role == .user ? .user : .assistant, content: $0.content) },
            systemPrompt: bot.systemPrompt, contextTokens: bot.contextTokens, maxOutputTokens: bot.maxOutputTokens)
        var kind = bot.providerKind
        var baseURL = bot.baseUrl
        var apiKey = try bot.apiKeySealed.map {
            String(decoding: try secretBox.unseal($0, label: ParleyServices.providerKeyLabel(bot.id)), as: UTF8.self)
        }
        var model = bot.model
        if let override = providerOverride {
            (kind, baseURL, apiKey, model) = (override.kind, override.baseURL, override.apiKey, override.model)
        }
        return ProviderRequest(
            kind: kind, baseURL: baseURL, apiKey: apiKey, model: model, systemPrompt: bot.systemPrompt,
            messages: messages, temperature: bot.temperature, maxOutputTokens: bot.maxOutputTokens,
            endUser: Digest256.sha256("\(pair.user.workspaceId)\u{1F}\(pair.user.userId)").hexEncoded.prefix(32).description)
    }

    /// The contract's mid-stream codes, explained for people.
    static func explanation(of code: String) -> String {
        switch code {
        case "upstream_timeout": "The model provider stopped answering."
        case "upstream_rate_limited": "The model provider is rate-limiting requests; try again shortly."
        case "provider_auth_failed": "The model provider refused this workspace's API key."
        case "context_too_long": "This conversation is too long for the model; start a new one."
        case "interrupted": "The reply was interrupted before it finished."
        case "unavailable": "The reply could not be saved: storage is unavailable. What was received so far is shown."
        default: "The model provider failed."
        }
    }
}

/// The text of a streaming reply so far, grown by the generating task and saved by the `ReplyTextFlusher`.
///
/// The text lives here only, so each delta is appended in place; a copy held elsewhere would
/// make every append copy the whole reply.
final class ReplyText: Sendable {
    private let state = Mutex<(text: String, changed: Bool)>(("", false))

    /// Appends `delta`; returns the text's length in UTF-8 bytes.
    func append(_ delta: String) -> Int {
        state.withLock { state in
            state.text += delta
            state.changed = true
            return state.text.utf8.count
        }
    }

    var current: String { state.withLock { $0.text } }

    /// The text if it changed since the last call.
    func takeIfChanged() -> String? {
        state.withLock { state in
            guard state.changed else { return nil }
            state.changed = false
            return state.text
        }
    }
}

/// Chooses the history a reply sends: the system prompt, then as many of the most recent
/// messages as fit the bot's context budget (the newest always), oldest dropped first.
enum ContextWindow {
    /// A rough count that errs high for English (about four bytes a token), plus a little per
    /// message for the role markup.
    static func estimate(_ text: String) -> Int {
        (text.utf8.count + 3) / 4 + 4
    }

    static func select(history: [ProviderRequest.Message], systemPrompt: String, contextTokens: Int, maxOutputTokens: Int)
        -> [ProviderRequest.Message]
    {
        var budget = contextTokens - maxOutputTokens - (systemPrompt.isEmpty ? 0 : estimate(systemPrompt))
        var chosen: [ProviderRequest.Message] = []
        for message in history.reversed() {
            let cost = estimate(message.content)
            guard chosen.isEmpty || cost <= budget else { break }
            chosen.append(message)
            budget -= cost
        }
        return chosen.reversed()
    }
}
