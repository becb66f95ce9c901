import Testing

@testable import Parley

/// The rules of a reply's outcome, without a provider or a database.
@Suite struct ReplyLifecycleTests {
    func lifecycle(_ inputs: [ReplyLifecycle.Input], maxOutputTokens: Int = 100) -> (ReplyLifecycle, [ReplyLifecycle.Action]) {
        var lifecycle = ReplyLifecycle(model: "bot-model", maxOutputTokens: maxOutputTokens)
        let actions = inputs.map { lifecycle.receive($0) }
        return (lifecycle, actions)
    }

    @Test func aFinishedStreamIsCompleteWithTheReportedModelAndUsage() {
        let (reply, actions) = lifecycle([
            .model("served-model"), .delta(totalUTF8: 5), .delta(totalUTF8: 12), .finish(reason: "stop"),
            .usage(TokenUsage(inputTokens: 9, outputTokens: 3)),
        ])
        #expect(actions == [.none, .relay, .relay, .none, .none])
        #expect(reply.outcome == .init(status: .complete, finishReason: "stop", model: "served-model", inputTokens: 9, outputTokens: 3))
    }

    @Test func withoutReportedUsageTheOutputIsEstimatedFromTheText() {
        let (reply, _) = lifecycle([.delta(totalUTF8: 41), .finish(reason: "length")])
        #expect(reply.outcome.inputTokens == 0)
        #expect(reply.outcome.outputTokens == 11)
    }

    @Test func aCancelRequestWinsOverEverythingElse() {
        let (reply, _) = lifecycle([.delta(totalUTF8: 3), .failure(.upstream("x")), .finish(reason: "stop"), .cancelRequested])
        #expect(reply.outcome.status == .cancelled)
        #expect(reply.outcome.finishReason == "cancelled")
        #expect(reply.outcome.errorCode == nil)
    }

    @Test func aFailureWinsOverAFinishAndTheFirstFailureIsKept() {
        let (failed, _) = lifecycle([
            .finish(reason: "stop"), .failure(ProviderFailure(code: .upstreamTimeout, message: "t")), .failure(.upstream("later")),
        ])
        #expect(failed.outcome.status == .failed)
        #expect(failed.outcome.errorCode == "upstream_timeout")
        let (broken, _) = lifecycle([.delta(totalUTF8: 3), .failure(ProviderFailure(code: .interrupted, message: "cut"))])
        #expect(broken.outcome.status == .interrupted, "a broken transfer keeps its text as interrupted")
        #expect(broken.outcome.errorCode == "interrupted")
    }

    @Test func aStreamStoppedWithNoFinishIsInterrupted() {
        let (reply, _) = lifecycle([.delta(totalUTF8: 3)])
        #expect(reply.outcome.status == .interrupted, "the server shut down mid-reply")
        #expect(reply.outcome.errorCode == "interrupted")
    }

    @Test func textFarPastTheOutputLimitIsCutOff() {
        // 10 tokens allowed: 10 * 4 + 256 = 296 estimated tokens, about 1,184 bytes.
        let (reply, actions) = lifecycle([.delta(totalUTF8: 1_184), .delta(totalUTF8: 1_188)], maxOutputTokens: 10)
        #expect(actions[0] == .relay)
        guard case .cutOff(let failure) = actions[1] else {
            Issue.record("expected a cut-off, got \(actions[1])")
            return
        }
        #expect(failure.code == .upstreamError)
        #expect(reply.outcome.status == .failed)
    }
}
