import CCurl
import Foundation
import Synchronization

/// The one thread that drives every transfer through libcurl's multi interface.
///
/// Other threads never touch libcurl: they queue a `Command` and wake the thread with
/// `curl_multi_wakeup` (the one multi call that is safe from any thread). The thread then waits
/// in `curl_multi_poll` on every transfer's socket at once, so thousands of concurrent transfers
/// cost one thread, and checks the deadlines libcurl does not enforce itself (first byte, idle).
final class Reactor: @unchecked Sendable {
    // `multi`, `transfers` and `byHandle` are touched only on the reactor thread; `commands`
    // is locked; `multi` is read by other threads only to pass it to `curl_multi_wakeup`.
    enum Command: Sendable {
        case start(Transfer)
        case resume(UInt64)
        case cancel(UInt64)
        case shutdown
    }

    private let multi: UnsafeMutableRawPointer
    private let commands = Mutex<(queue: [Command], stopped: Bool)>(([], false))
    private var transfers: [UInt64: Transfer] = [:]
    private var byHandle: [UnsafeMutableRawPointer: UInt64] = [:]
    private var lastDeadlineCheck = ContinuousClock.now
    private let finished = Mutex<Bool>(false)
    private var thread: Thread?

    init() {
        Self.globalInit
        multi = curl_multi_init()
        let thread = Thread { [self] in run() }
        thread.name = "curl-reactor"
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
        let accepted = commands.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.queue.append(command)
            if case .shutdown = command { state.stopped = true }
            return true
        }
        if accepted { curl_multi_wakeup(multi) }
        return accepted
    }

    /// Transfers the reactor holds, for tests and metrics.
    let openTransfers = Atomic<Int>(0)

    private func run() {
        var running: Int32 = 0
        while true {
            let pending = commands.withLock { state -> [Command] in
                defer { state.queue.removeAll(keepingCapacity: true) }
                return state.queue
            }
            for command in pending {
                if case .shutdown = command {
                    for transfer in Array(transfers.values) { remove(transfer, error: .shutdown) }
                    curl_multi_cleanup(multi)
                    finished.withLock { $0 = true }
                    return
                }
                apply(command)
            }
            curl_multi_perform(multi, &running)
            drainFinished()
            checkDeadlines()
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, transfers.isEmpty ? 1000 : 100, &ready)
        }
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
