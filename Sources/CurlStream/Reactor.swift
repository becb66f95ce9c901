import CCurl
import Foundation
import Synchronization

/// The one thread that drives every transfer through libcurl's multi interface.
///
/// Other threads never touch libcurl: they queue a `Command` and wake the thread through an
/// eventfd. The thread waits in `epoll_wait` on the sockets libcurl asked it to watch (its socket
/// callback) and on libcurl's next timer (its timer callback), and hands each ready socket to
/// `curl_multi_socket_action`. A chunk arriving on one of ten thousand transfers therefore costs
/// the same as on one: `curl_multi_perform`/`curl_multi_poll` would walk every transfer on
/// every wake-up. The thread also checks the deadlines libcurl does not enforce itself (first
/// byte, idle).
final class Reactor: @unchecked Sendable {
    // `multi`, `transfers`, `byHandle` and `timerDeadline` are touched only on the reactor thread
    // (libcurl's callbacks run there too); `commands` is locked; `wakeFD` is written by any thread.
    enum Command: Sendable {
        case start(Transfer)
        case resume(UInt64)
        case cancel(UInt64)
        case shutdown
    }

    private let multi: UnsafeMutableRawPointer
    private let epoll: Int32
    private let wakeFD: Int32
    private let commands = Mutex<(queue: [Command], stopped: Bool)>(([], false))
    private var transfers: [UInt64: Transfer] = [:]
    private var byHandle: [UnsafeMutableRawPointer: UInt64] = [:]
    /// When libcurl next wants `curl_multi_socket_action(CURL_SOCKET_TIMEOUT)`; nil: no timer.
    private var timerDeadline: ContinuousClock.Instant?
    private var lastDeadlineCheck = ContinuousClock.now
    private let finished = Mutex<Bool>(false)
    private var thread: Thread?

    init() {
        Self.globalInit
        multi = curl_multi_init()
        epoll = ccurl_epoll_create()
        wakeFD = ccurl_eventfd_create()
        precondition(epoll >= 0 && wakeFD >= 0, "the curl reactor could not create its epoll set: errno \(errno)")
        _ = ccurl_epoll_watch(epoll, wakeFD, CURL_POLL_IN)
        let context = Unmanaged.passUnretained(self).toOpaque()
        _ = ccurl_multi_setopt_socket_callback(multi, { _, socket, what, context, _ in
            let reactor = Unmanaged<Reactor>.fromOpaque(context!).takeUnretainedValue()
            return ccurl_epoll_watch(reactor.epoll, socket, what) == 0 || what == CURL_POLL_REMOVE ? 0 : -1
        }, context)
        _ = ccurl_multi_setopt_timer_callback(multi, { _, milliseconds, context in
            let reactor = Unmanaged<Reactor>.fromOpaque(context!).takeUnretainedValue()
            reactor.timerDeadline = milliseconds < 0 ? nil : .now + .milliseconds(milliseconds)
            return 0
        }, context)
        let thread = Thread { [self] in
            // `thread.name` alone never reached the kernel here: the thread kept the name of
            // the dispatch queue that created it, and that is what `top -H`, `perf` and `/proc`
            // showed for libcurl's work.
            ccurl_name_current_thread(Self.threadName)
            run()
        }
        thread.name = Self.threadName
        self.thread = thread
        thread.start()
    }

    /// `curl_global_init` is not thread-safe: run it once, before any reactor exists.
    private static let globalInit: Void = {
        _ = ccurl_global_init()
    }()

    /// Queues `command` for the reactor thread.
    ///
    /// - Returns: false once the reactor has shut down (the command was not queued).
    @discardableResult
    func submit(_ command: Command) -> Bool {
        commands.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.queue.append(command)
            if case .shutdown = command { state.stopped = true }
            // Signalled under the lock: the thread closes `wakeFD` only after it has taken the
            // lock and seen `.shutdown`, so this never writes to a closed (or reused) descriptor.
            ccurl_eventfd_signal(wakeFD)
            return true
        }
    }

    /// Transfers the reactor holds, for tests and metrics.
    let openTransfers = Atomic<Int>(0)

    private static let batch = 512
    /// At most 15 bytes: the kernel's limit.
    static let threadName = "curl-reactor"

    private func run() {
        var running: Int32 = 0
        var readyFDs = [Int32](repeating: 0, count: Self.batch)
        var readyMasks = [Int32](repeating: 0, count: Self.batch)
        while true {
            let pending = commands.withLock { state -> [Command] in
                defer { state.queue.removeAll(keepingCapacity: true) }
                return state.queue
            }
            for command in pending {
                if case .shutdown = command {
                    for transfer in Array(transfers.values) { remove(transfer, error: .shutdown) }
                    curl_multi_cleanup(multi)
                    close(epoll)
                    close(wakeFD)
                    finished.withLock { $0 = true }
                    return
                }
                apply(command)
            }
            let count = ccurl_epoll_wait(epoll, &readyFDs, &readyMasks, Int32(Self.batch), waitMilliseconds())
            for index in 0..<Int(max(count, 0)) {
                if readyFDs[index] == wakeFD {
                    ccurl_eventfd_drain(wakeFD)
                } else {
                    curl_multi_socket_action(multi, readyFDs[index], readyMasks[index], &running)
                }
            }
            if let deadline = timerDeadline, deadline <= .now {
                timerDeadline = nil
                ccurl_multi_timeout_action(multi, &running)
            }
            drainFinished()
            checkDeadlines()
        }
    }

    /// How long `epoll_wait` may sleep: until libcurl's timer, and at most 100 ms while transfers
    /// are open (the first-byte and idle checks), a second when there are none.
    private func waitMilliseconds() -> Int32 {
        var limit: Duration = transfers.isEmpty ? .seconds(1) : .milliseconds(100)
        if let deadline = timerDeadline { limit = min(limit, max(.zero, deadline - .now)) }
        let (seconds, attoseconds) = limit.components
        // Round up, so a timer 0.3 ms away does not spin at 0 ms until it is due.
        return Int32(seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }

    private func apply(_ command: Command) {
        switch command {
        case .start(let transfer):
            transfers[transfer.id] = transfer
            byHandle[transfer.easy] = transfer.id
            openTransfers.add(1, ordering: .relaxed)
            let code = curl_multi_add_handle(multi, transfer.easy)
            if code != CURLM_OK {
                remove(transfer, error: .transport(code: Int(code.rawValue), message: String(cString: curl_multi_strerror(code))))
            }
        case .resume(let id):
            guard let transfer = transfers[id], transfer.isPaused else { return }
            transfer.isPaused = false
            transfer.lastActivity = .now
            _ = ccurl_easy_unpause(transfer.easy)
        case .cancel(let id):
            guard let transfer = transfers[id] else { return }
            remove(transfer, error: .cancelled)
        case .shutdown:
            break
        }
    }

    private func drainFinished() {
        var handle: UnsafeMutableRawPointer?
        var result = CURLE_OK
        while ccurl_multi_next_done(multi, &handle, &result) == 1 {
            guard let handle, let id = byHandle[handle], let transfer = transfers[id] else { continue }
            remove(transfer, error: Self.error(for: result, transfer: transfer))
        }
    }

    private static func error(for result: CURLcode, transfer: Transfer) -> CurlError? {
        switch result {
        case CURLE_OK:
            return nil
        case CURLE_OPERATION_TIMEDOUT:
            var connectTime: Double = 0
            _ = withUnsafeMutablePointer(to: &connectTime) {
                ccurl_easy_getinfo_pointer(transfer.easy, CURLINFO_CONNECT_TIME, UnsafeMutableRawPointer($0).assumingMemoryBound(to: UnsafeMutableRawPointer?.self))
            }
            return connectTime == 0 ? .connectTimeout : (transfer.headComplete ? .totalTimeout : .firstByteTimeout)
        default:
            return .transport(code: Int(result.rawValue), message: String(cString: curl_easy_strerror(result)))
        }
    }

    /// Enforces the first-byte and idle deadlines, ten times a second at most.
    private func checkDeadlines() {
        let now = ContinuousClock.now
        guard now - lastDeadlineCheck >= .milliseconds(100) else { return }
        lastDeadlineCheck = now
        for transfer in Array(transfers.values) {
            if let last = transfer.lastActivity {
                if !transfer.isPaused, now - last > transfer.timeouts.idle {
                    remove(transfer, error: .idleTimeout)
                }
            } else if now - transfer.startedAt > transfer.timeouts.firstByte {
                remove(transfer, error: .firstByteTimeout)
            }
        }
    }

    /// Takes `transfer` out of the multi handle (closing its connection if it was mid-response),
    /// tells its waiters why, and frees it.
    private func remove(_ transfer: Transfer, error: CurlError?) {
        guard transfers.removeValue(forKey: transfer.id) != nil else { return }
        byHandle[transfer.easy] = nil
        openTransfers.subtract(1, ordering: .relaxed)
        curl_multi_remove_handle(multi, transfer.easy)
        transfer.finish(error)
        transfer.release()
    }

    /// Stops the thread after failing every open transfer with `.shutdown`; waits for it.
    func shutdown() {
        guard submit(.shutdown) else { return }
        while !finished.withLock({ $0 }) { usleep(1000) }
    }
}
