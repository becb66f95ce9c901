import Testing

@testable import Parley

/// The memory trimmer's rule: trim once each time the hub goes from holding replies to none.
@Suite struct MemoryTrimmerTests {
    @Test func itTrimsOncePerBusySpell() {
        let state = TrimState()
        #expect(!state.shouldTrim(holding: 0), "never busy: nothing to give back")
        #expect(!state.shouldTrim(holding: 3))
        #expect(!state.shouldTrim(holding: 1))
        #expect(state.shouldTrim(holding: 0), "the spell is over")
        #expect(!state.shouldTrim(holding: 0), "once")
        #expect(!state.shouldTrim(holding: 2))
        #expect(state.shouldTrim(holding: 0), "and again after the next spell")
    }
}
