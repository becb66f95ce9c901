import Foundation
import Testing
import TestUpstream

@testable import CurlStream

/// The backpressure rules of `BodyBufferState`, without a socket.
@Suite struct BodyBufferStateTests {
    @Test func pausesAtTheHighWaterMarkAndResumesAtTheLowOne() {
        var state = BodyBufferState(highWater: 10, lowWater: 4)
        #expect(state.offer(Array(repeating: 1, count: 6)).0 == .accepted)
        #expect(state.offer(Array(repeating: 2, count: 6)).0 == .accepted)
        #expect(state.offer([3]).0 == .pause, "12 bytes wait unread: past the high-water mark")
        #expect(state.isPaused)
        #expect(state.read() == .deliver(Array(repeating: 1, count: 6), resumeTransfer: false), "6 left: above low water")
        #expect(state.read() == .deliver(Array(repeating: 2, count: 6), resumeTransfer: true), "0 left: resume")
        #expect(!state.isPaused)
    }

    @Test func aWaitingReaderIsHandedBytesDirectly() {
        var state = BodyBufferState(highWater: 10, lowWater: 4)
        #expect(state.read() == .wait(resumeTransfer: false))
        let (action, handed) = state.offer([9])
        #expect(action == .accepted)
        #expect(handed)
        #expect(state.bufferedBytes == 0)
    }

    @Test func theEndComesAfterQueuedBytes() {
        var state = BodyBufferState(highWater: 10, lowWater: 4)
        _ = state.offer([1])
        #expect(state.finish(.idleTimeout) == false, "no reader parked")
        #expect(state.read() == .deliver([1], resumeTransfer: false))
        #expect(state.read() == .fail(.idleTimeout))
    }

    @Test func aPausedTransferWithNothingQueuedResumesWhenTheReaderWaits() {
        var state = BodyBufferState(highWater: 2, lowWater: 1)
        _ = state.offer([1, 1])
        #expect(state.offer([2]).0 == .pause)
        #expect(state.read() == .deliver([1, 1], resumeTransfer: true))
        #expect(state.read() == .wait(resumeTransfer: false))
    }
}
