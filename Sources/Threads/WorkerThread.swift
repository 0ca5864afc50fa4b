#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A thread of the system's own, started one way everywhere: the serial
/// lines, the bus carrier, the epoll loops, the udev watcher, the gateway
/// historian's writer, the history compressor, the simulated slaves.
///
/// The thread starts at once and runs `body`. Keep the value to ``join()``
/// it; a thread whose value is dropped before it is joined is detached, so
/// that its resources go when it ends. Its name, cut to the 15 bytes the
/// kernel keeps, is what `top -H`, `ps -L` and a debugger show.
public final class WorkerThread: Sendable {
    private let handle: Mutex<pthread_t?>

    /// Starts `body` on a new thread called `name`.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let start = Unmanaged.passRetained(Start(name: name, body: body))
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            start.run()
            return nil
        }, start.toOpaque())
        // Only a lack of memory or of threads fails here: nothing to go on with.
        precondition(result == 0, "pthread_create failed: \(result)")
        handle = Mutex(thread)
    }

    /// Starts `body` on a thread nobody joins.
    public static func detach(name: String, _ body: @escaping @Sendable () -> Void) {
        _ = WorkerThread(name: name, body)
    }

    /// Waits for the thread to end. Only the first call waits: later ones
    /// (concurrent ones too) and one from the thread itself return at once,
    /// so one owner should join.
    public func join() {
        guard let thread = handle.withLock({ handle -> pthread_t? in defer { handle = nil }; return handle }) else { return }
        if pthread_equal(thread, pthread_self()) != 0 {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }

    deinit {
        if let thread = handle.withLock({ $0 }) { pthread_detach(thread) }
    }
}

/// What the new thread runs, handed over through pthread_create's one pointer.
private final class Start {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }

    func run() {
        nameThisThread()
        body()
    }

    /// Writes the name where pthread_setname_np would (Glibc's Swift module
    /// lacks it, and prctl is variadic): the kernel keeps 15 bytes.
    private func nameThisThread() {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
