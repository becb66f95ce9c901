import Foundation
import Synchronization

/// Refuses provider URLs that point into the server's own network (SSRF).
///
/// A base URL must be `http(s)`, and unless private upstreams are allowed, every address its host
/// resolves to must be public: not loopback, private, link-local (cloud metadata lives at
/// 169.254.169.254), carrier-grade NAT, unique-local, multicast or unspecified. The checked
/// addresses are handed to libcurl as `CURLOPT_RESOLVE` entries, so the connection goes to an
/// address that was checked even if DNS answers differently a moment later (DNS rebinding).
///
/// A host's answer is kept for `answerLifetime` (libcurl's own DNS cache keeps one for 60 s), so
/// a reply does not wait on DNS, and many replies starting at once share one lookup rather than
/// each holding a thread in `getaddrinfo`. Only the verdict's input is kept: every check judges
/// the addresses again.
struct UpstreamGuard: Sendable {
    let allowPrivate: Bool
    private let answers: HostAnswers

    /// - Parameters:
    ///   - resolve: looks a host up; `getaddrinfo` on a GCD worker unless a test passes its own.
    ///   - now: the clock the answers age by.
    init(
        allowPrivate: Bool, answerLifetime: Duration = .seconds(60),
        resolve: @escaping @Sendable (String) async -> [[UInt8]] = UpstreamGuard.resolve,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.allowPrivate = allowPrivate
        self.answers = HostAnswers(lifetime: answerLifetime, resolve: resolve, now: now)
    }

    enum Verdict: Sendable, Equatable {
        /// Connect with these `host:port:address` pins (empty: let libcurl resolve).
        case allowed(resolve: [String])
        case forbidden(String)
        /// The host did not resolve; it may later.
        case unresolvable
    }

    func check(_ urlString: String) async -> Verdict {
        guard let url = URL(string: urlString), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { return .forbidden("The provider URL must be http or https.") }
        if allowPrivate { return .allowed(resolve: []) }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        let addresses = await answers.addresses(of: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased())
        guard !addresses.isEmpty else { return .unresolvable }
        if let blocked = addresses.first(where: { AddressPolicy.isInternal($0) }) {
            return .forbidden("The provider URL resolves to an internal address (\(AddressPolicy.describe(blocked))).")
        }
        return .allowed(resolve: addresses.map { "\(host):\(port):\(AddressPolicy.curlLiteral($0))" })
    }

    /// `getaddrinfo` blocks, so it runs on a GCD worker, never on an event loop or the
    /// cooperative pool.
    static func resolve(_ host: String) async -> [[UInt8]] {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                var hints = addrinfo()
                hints.ai_family = AF_UNSPEC
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var list: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else {
                    continuation.resume(returning: [])
                    return
                }
                defer { freeaddrinfo(list) }
                var addresses: [[UInt8]] = []
                var cursor: UnsafeMutablePointer<addrinfo>? = first
                while let entry = cursor {
                    if let sockaddr = entry.pointee.ai_addr {
                        switch entry.pointee.ai_family {
                        case AF_INET:
                            var address = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                            addresses.append(withUnsafeBytes(of: &address) { Array($0) })
                        case AF_INET6:
                            var address = sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                            addresses.append(withUnsafeBytes(of: &address) { Array($0) })
                        default: break
                        }
                    }
                    cursor = entry.pointee.ai_next
                }
                var unique: [[UInt8]] = []
                for address in addresses where !unique.contains(address) { unique.append(address) }
                continuation.resume(returning: unique)
            }
        }
    }
}

/// The addresses hosts resolved to, each kept for `lifetime` from its lookup.
///
/// Lookups of one host are shared: a check that finds one under way waits for it. An empty
/// answer (the host did not resolve) is not kept, so the next check asks again. The table is
/// bounded: when it is full, the answers that have lapsed go, and if none has, all of them.
final class HostAnswers: Sendable {
    private enum Entry {
        case resolving(Task<[[UInt8]], Never>)
        case resolved([[UInt8]], at: ContinuousClock.Instant)
    }

    static let maxHosts = 1_024

    private let lifetime: Duration
    private let resolve: @Sendable (String) async -> [[UInt8]]
    private let now: @Sendable () -> ContinuousClock.Instant
    private let entries = Mutex<[String: Entry]>([:])

    init(lifetime: Duration, resolve: @escaping @Sendable (String) async -> [[UInt8]], now: @escaping @Sendable () -> ContinuousClock.Instant) {
        self.lifetime = lifetime
        self.resolve = resolve
        self.now = now
    }

    /// How many hosts are remembered or being looked up.
    var count: Int { entries.withLock { $0.count } }

    func addresses(of host: String) async -> [[UInt8]] {
        enum Found {
            case kept([[UInt8]])
            case underWay(Task<[[UInt8]], Never>)
        }
        let found = entries.withLock { entries -> Found in
            switch entries[host] {
            case .resolved(let addresses, let at) where now() - at < lifetime:
                return .kept(addresses)
            case .resolving(let lookup):
                return .underWay(lookup)
            case .resolved, nil:
                if entries.count >= Self.maxHosts { forgetLapsed(&entries) }
                let resolve = self.resolve
                let lookup = Task { await resolve(host) }
                entries[host] = .resolving(lookup)
                return .underWay(lookup)
            }
        }
        switch found {
        case .kept(let addresses):
            return addresses
        case .underWay(let lookup):
            let addresses = await lookup.value
            entries.withLock { entries in
                // Every waiter gets here; the first one files the answer.
                guard case .resolving = entries[host] else { return }
                entries[host] = addresses.isEmpty ? nil : .resolved(addresses, at: now())
            }
            return addresses
        }
    }

    private func forgetLapsed(_ entries: inout [String: Entry]) {
        let now = self.now()
        entries = entries.filter { _, entry in
            switch entry {
            case .resolving: true
            case .resolved(_, let at): now - at < lifetime
            }
        }
        if entries.count >= Self.maxHosts { entries.removeAll() }
    }
}

/// Which IP addresses are internal. Pure, so every range is unit-tested.
enum AddressPolicy {
    /// `address` is 4 (IPv4) or 16 (IPv6) bytes in network order.
    static func isInternal(_ address: [UInt8]) -> Bool {
        if address.count == 16 {
            // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) forms: judge the IPv4.
            if address[0..<10].allSatisfy({ $0 == 0 }) && (address[10..<12] == [0xFF, 0xFF] || address[10..<12] == [0, 0]) {
                if address[10..<12] == [0, 0] && address[12..<16].allSatisfy({ $0 == 0 }) { return true }  // ::
                if address[10..<12] == [0, 0] && address[12..<15].allSatisfy({ $0 == 0 }) && address[15] == 1 { return true }  // ::1
                return isInternal(Array(address[12..<16]))
            }
            let first = address[0]
            return first == 0xFF  // multicast
                || first & 0xFE == 0xFC  // fc00::/7 unique local
                || (first == 0xFE && address[1] & 0xC0 == 0x80)  // fe80::/10 link-local
                || (first == 0xFE && address[1] & 0xC0 == 0xC0)  // fec0::/10 site-local (deprecated)
                || (address[0] == 0x20 && address[1] == 0x01 && address[2] == 0x0D && address[3] == 0xB8)  // 2001:db8::/32 documentation
                || (address[0] == 0x00 && address[1] == 0x64 && address[2] == 0xFF && address[3] == 0x9B)  // 64:ff9b::/96 NAT64
        }
        guard address.count == 4 else { return true }
        let (a, b) = (address[0], address[1])
        return a == 0  // 0.0.0.0/8
            || a == 10  // 10/8
            || a == 127  // loopback
            || (a == 100 && b & 0xC0 == 64)  // 100.64/10 carrier-grade NAT
            || (a == 169 && b == 254)  // link-local, cloud metadata
            || (a == 172 && b & 0xF0 == 16)  // 172.16/12
            || (a == 192 && b == 168)  // 192.168/16
            || (a == 192 && b == 0 && address[2] == 0)  // 192.0.0/24 IETF protocol assignments
            || (a == 198 && (b == 18 || b == 19))  // 198.18/15 benchmarking
            || a >= 224  // multicast, reserved, broadcast
    }

    static func describe(_ address: [UInt8]) -> String {
        if address.count == 4 { return address.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }

    /// The address as `CURLOPT_RESOLVE` wants it (IPv6 in brackets).
    static func curlLiteral(_ address: [UInt8]) -> String {
        address.count == 4 ? describe(address) : "[\(describe(address))]"
    }
}
