import Foundation
import HTTPTypes
import Synchronization
import Testing
import TestUpstream

@testable import Parley

/// The SSRF guard's memory of DNS answers: a reply does not wait on DNS, and replies starting
/// together share one lookup, yet every check still judges the addresses.
@Suite struct UpstreamGuardAnswerTests {
    /// A resolver that answers from a table and counts its lookups, and a clock the test moves.
    final class World: Sendable {
        let answers: [String: [[UInt8]]]
        let lookups = Mutex<[String]>([])
        let clock = Mutex(ContinuousClock.now)

        init(_ answers: [String: [[UInt8]]]) { self.answers = answers }

        func makeGuard() -> UpstreamGuard {
            UpstreamGuard(
                allowPrivate: false, answerLifetime: .seconds(60),
                resolve: { host in
                    self.lookups.withLock { $0.append(host) }
                    // Long enough that the concurrent checks below find the lookup under way.
                    try? await Task.sleep(for: .milliseconds(20))
                    return self.answers[host] ?? []
                },
                now: { self.clock.withLock { $0 } })
        }

        func advance(_ duration: Duration) { clock.withLock { $0 += duration } }
        var lookupCount: Int { lookups.withLock { $0.count } }
    }

    static let publicAddress: [UInt8] = [93, 184, 216, 34]

    @Test func concurrentChecksShareOneLookupAndTheAnswerIsKeptForItsLifetime() async {
        let world = World(["api.example.com": [Self.publicAddress]])
        let upstreamGuard = world.makeGuard()
        let verdicts = await withTaskGroup(of: UpstreamGuard.Verdict.self) { group in
            for index in 0..<20 {
                group.addTask { await upstreamGuard.check(index % 2 == 0 ? "https://api.example.com/v1" : "https://API.Example.com/v1") }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let pinned = verdicts.map { verdict -> [String] in
            guard case .allowed(let pins) = verdict else { return [] }
            return pins.map { $0.lowercased() }
        }
        #expect(pinned == Array(repeating: ["api.example.com:443:93.184.216.34"], count: 20), "each pinned to the checked address")
        #expect(world.lookupCount == 1, "twenty checks, one lookup (host names are case-insensitive)")

        world.advance(.seconds(59))
        _ = await upstreamGuard.check("https://api.example.com/v1/chat")
        #expect(world.lookupCount == 1, "still fresh")
        world.advance(.seconds(2))
        #expect(await upstreamGuard.check("https://api.example.com/v1") == .allowed(resolve: ["api.example.com:443:93.184.216.34"]))
        #expect(world.lookupCount == 2, "lapsed, so asked again")
    }

    @Test func aKeptInternalAnswerIsStillRefusedAndAnUnresolvedHostIsAskedAgain() async {
        let world = World(["rebound.example.com": [[127, 0, 0, 1]]])
        let upstreamGuard = world.makeGuard()
        for _ in 0..<2 {
            guard case .forbidden = await upstreamGuard.check("https://rebound.example.com/v1") else {
                Issue.record("an internal address must be refused")
                return
            }
        }
        #expect(world.lookupCount == 1)
        #expect(await upstreamGuard.check("https://missing.example.com/v1") == .unresolvable)
        #expect(await upstreamGuard.check("https://missing.example.com/v1") == .unresolvable)
        #expect(world.lookupCount == 3, "a host that did not resolve is not remembered")
    }

    @Test func theTableIsBoundedAndMakesRoomFromLapsedAnswersFirst() async {
        let world = World([:])
        let answers = HostAnswers(lifetime: .seconds(60), resolve: { _ in [Self.publicAddress] }, now: { world.clock.withLock { $0 } })
        let half = HostAnswers.maxHosts / 2
        for index in 0..<half { _ = await answers.addresses(of: "old\(index).example.com") }
        world.advance(.seconds(61))
        for index in 0..<half { _ = await answers.addresses(of: "new\(index).example.com") }
        #expect(answers.count == HostAnswers.maxHosts)
        _ = await answers.addresses(of: "one-more.example.com")
        #expect(answers.count == half + 1, "the lapsed half made room; the fresh half stayed")

        for index in answers.count..<HostAnswers.maxHosts { _ = await answers.addresses(of: "more\(index).example.com") }
        #expect(answers.count == HostAnswers.maxHosts)
        _ = await answers.addresses(of: "last.example.com")
        #expect(answers.count == 1, "with nothing lapsed, everything went")
    }
}
