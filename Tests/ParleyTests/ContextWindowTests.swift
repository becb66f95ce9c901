import Foundation
import HTTPTypes
import Synchronization
import Testing
import TestUpstream

@testable import Parley

/// Which history a reply sends.
@Suite struct ContextWindowTests {
    func message(_ role: ProviderRequest.Message.Role, _ size: Int) -> ProviderRequest.Message {
        .init(role: role, content: String(repeating: "a", count: size))
    }

    @Test func keepsTheNewestMessagesThatFitAndDropsTheOldest() {
        let history = [message(.user, 400), message(.assistant, 400), message(.user, 400), message(.assistant, 400), message(.user, 40)]
        // Each 400-byte message costs 104, the last 14; budget = 400 - 100 = 300.
        let chosen = ContextWindow.select(history: history, systemPrompt: "", contextTokens: 400, maxOutputTokens: 100)
        #expect(chosen == Array(history.suffix(3)))
    }

    @Test func alwaysKeepsTheLatestMessage() {
        let chosen = ContextWindow.select(history: [message(.user, 100_000)], systemPrompt: "", contextTokens: 300, maxOutputTokens: 100)
        #expect(chosen.count == 1)
    }
}
