/// A reply's life from the provider's first event to the outcome that is stored, as a pure state
/// machine: the generator feeds it what happened and does what it answers; these rules are
/// unit-tested without a provider or a database.
///
/// The outcome, by precedence: a user's cancel request ends `cancelled` whatever else happened; a
/// provider failure ends `failed` (or `interrupted` for a broken transfer) with its code; a
/// reported finish ends `complete`; a stream stopped with none of these (the server shutting down)
/// ends `interrupted`.
struct ReplyLifecycle: Equatable {
    enum Input: Equatable {
        /// More text; `totalUTF8` is the reply's length with it.
        case delta(totalUTF8: Int)
        case model(String)
        case usage(TokenUsage)
        case finish(reason: String)
        case failure(ProviderFailure)
        case cancelRequested
    }

    enum Action: Equatable {
        /// Relay the text to the reply's followers.
        case relay
        /// Stop the provider with this failure: it sent far more than the bot allows.
        case cutOff(ProviderFailure)
        case none
    }

    struct Outcome: Equatable {
        var status: ReplyStatus
        var finishReason: String?
        var errorCode: String?
        var model: String
        var inputTokens: Int
        var outputTokens: Int
    }

    /// Text past this many estimated tokens is cut off: a provider that ignores `max_tokens`, or
    /// streams forever, must not fill the database.
    let tokenLimit: Int
    private var model: String
    private var usage: TokenUsage?
    private var finishReason: String?
    private var failure: ProviderFailure?
    private var cancelRequested = false
    private var textUTF8 = 0

    init(model: String, maxOutputTokens: Int) {
        self.model = model
        tokenLimit = maxOutputTokens * 4 + 256
    }

    mutating func receive(_ input: Input) -> Action {
        switch input {
        case .delta(let total):
            textUTF8 = total
            guard Self.estimatedTokens(utf8Count: total) <= tokenLimit else {
                let failure = ProviderFailure.upstream("The provider sent far more than the bot's output limit.")
                self.failure = self.failure ?? failure
                return .cutOff(failure)
            }
            return .relay
        case .model(let reported): model = reported
        case .usage(let reported): usage = reported
        case .finish(let reason): finishReason = reason
        case .failure(let reported): failure = failure ?? reported
        case .cancelRequested: cancelRequested = true
        }
        return .none
    }

    /// What is stored once the provider's stream is over.
    var outcome: Outcome {
        var outcome = Outcome(
            status: .interrupted, errorCode: ProviderFailure.Code.interrupted.rawValue, model: model,
            inputTokens: usage?.inputTokens ?? 0, outputTokens: usage?.outputTokens ?? Self.estimatedTokens(utf8Count: textUTF8))
        if cancelRequested {
            (outcome.status, outcome.finishReason, outcome.errorCode) = (.cancelled, "cancelled", nil)
        } else if let failure {
            (outcome.status, outcome.errorCode) = (failure.code == .interrupted ? .interrupted : .failed, failure.code.rawValue)
        } else if let finishReason {
            (outcome.status, outcome.finishReason, outcome.errorCode) = (.complete, finishReason, nil)
        }
        return outcome
    }

    static func estimatedTokens(utf8Count: Int) -> Int {
        (utf8Count + 3) / 4
    }
}
