import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process for the tests, started with `posix_spawn`, with the part of `Process`'s
/// interface the tests use.
///
/// Foundation's `Process.run()` on Linux reads `/proc/self/fd` by copying each entry's whole
/// 256-byte name, which can run past the end of glibc's buffer and crash the test runner
/// (swiftlang/swift-corelibs-foundation#5472, seen here in CI on Swift 6.3.1). This spawns the
/// child with only its three standard descriptors open (`addclosefrom_np`), as `Process` means to.
final class ChildProcess: @unchecked Sendable {
    var executableURL: URL?
    var arguments: [String] = []
    /// The whole environment of the child; the parent's when nil.
    var environment: [String: String]?
    var currentDirectoryURL: URL?
    /// A `Pipe` (the child writes its write end), a `FileHandle`, or nil to inherit the parent's.
    var standardOutput: Any?
    var standardError: Any?

    private(set) var processIdentifier: pid_t = 0

    // glibc (2.34+) has both, but declares them only under _GNU_SOURCE, which Swift's Glibc
    // module does not define: they are looked up by name.
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias Chdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let addCloseFrom = unsafeBitCast(symbol("posix_spawn_file_actions_addclosefrom_np"), to: CloseFrom.self)
    private static let addChdir = unsafeBitCast(symbol("posix_spawn_file_actions_addchdir_np"), to: Chdir.self)

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer {
        guard let address = dlsym(dlopen(nil, RTLD_NOW), name) else { fatalError("glibc lacks \(name)") }
        return address
    }
    /// The raw `waitpid` status, once the child has been reaped.
    private let reaped = Mutex<Int32?>(nil)

    func run() throws {
        guard let executableURL else { throw POSIXError(.ENOENT) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (target, descriptor) in [(standardOutput, Int32(1)), (standardError, Int32(2))] {
            if let pipe = target as? Pipe {
                posix_spawn_file_actions_adddup2(&actions, pipe.fileHandleForWriting.fileDescriptor, descriptor)
            } else if let handle = target as? FileHandle {
                posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, descriptor)
            }
        }
        guard Self.addCloseFrom(&actions, 3) == 0 else { throw POSIXError(.EINVAL) }
        if let directory = currentDirectoryURL {
            guard Self.addChdir(&actions, directory.path) == 0 else { throw POSIXError(.EINVAL) }
        }
        let environment = self.environment ?? ProcessInfo.processInfo.environment
        let argv = ([executableURL.path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executableURL.path, &actions, nil, argv, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        processIdentifier = pid
        // The child holds the write ends now; the parent's copies would keep readers from EOF.
        for case let pipe as Pipe in [standardOutput, standardError] {
            try? pipe.fileHandleForWriting.close()
        }
    }

    func terminate() {
        if isRunning { kill(processIdentifier, SIGTERM) }
    }

    var isRunning: Bool {
        reaped.withLock { status in
            guard status == nil, processIdentifier > 0 else { return false }
            var raw: Int32 = 0
            if waitpid(processIdentifier, &raw, WNOHANG) == processIdentifier { status = raw }
            return status == nil
        }
    }

    /// Blocks the calling thread until the child ends; see `exited()` for async callers.
    func waitUntilExit() {
        guard processIdentifier > 0, reaped.withLock({ $0 }) == nil else { return }
        var raw: Int32 = 0
        while waitpid(processIdentifier, &raw, 0) < 0 && errno == EINTR {}
        reaped.withLock { if $0 == nil { $0 = raw } }
    }

    /// Waits for the child to end without holding a thread: the cooperative pool has two on a
    /// 2-core machine, and in-process test upstreams need them to feed a stopping server.
    func exited() async {
        while isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }

    private var rawStatus: Int32 { reaped.withLock { $0 } ?? 0 }

    /// The exit code, or the signal's number when a signal ended the child.
    var terminationStatus: Int32 {
        let raw = rawStatus
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
    }

    var terminationReason: Process.TerminationReason {
        rawStatus & 0x7f == 0 ? .exit : .uncaughtSignal
    }
}
