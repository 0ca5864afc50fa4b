#if canImport(Glibc)
import Glibc
#endif
import CUdev
import Logging
import Synchronization
import Threads

/// An adapter plugged in or unplugged.
public enum AdapterEvent: Sendable, Hashable {
    /// An adapter appeared, or was present at the start with `reportPresent`.
    case added(SerialAdapter)
    /// An adapter went away; its node may later go to another adapter.
    case removed(SerialAdapter)

    /// The adapter that came or went.
    public var adapter: SerialAdapter {
        switch self {
        case .added(let adapter), .removed(let adapter): adapter
        }
    }
}

/// Watches for serial adapters coming and going, on a thread of its own (a
/// libudev context must stay on one thread), delivering `events` as an
/// AsyncSequence. Where no udevd runs (a container), udev sends no events:
/// the monitor then rescans sysfs on an interval instead, and logs that it does.
public final class AdapterMonitor: Sendable {
    /// How the monitor learns of changes.
    public enum Mode: String, Sendable, CaseIterable {
        /// udev events where udevd runs, else rescanning.
        case automatic
        /// udev events only.
        case udev
        /// Rescanning sysfs every `rescanInterval`.
        case rescan
    }

    /// Plugs and unplugs as they happen; the stream ends at ``AdapterMonitor/stop()``.
    public let events: AsyncStream<AdapterEvent>
    /// The mode in use: never `.automatic`.
    public let mode: Mode
    private let control: MonitorControl
    private let thread: Mutex<WorkerThread?>

    /// Starts watching. With `reportPresent`, adapters already plugged in come
    /// first, as `.added`.
    public init(mode requested: Mode = .automatic, rescanInterval: Duration = .seconds(1),
                reportPresent: Bool = false, logger: Logger = Logger(label: "fieldgw.discovery")) {
        mode = Self.effectiveMode(requested, logger: logger, interval: rescanInterval)
        let (stream, continuation) = AsyncStream.makeStream(of: AdapterEvent.self, bufferingPolicy: .unbounded)
        events = stream
        control = MonitorControl()
        let watcher = Watcher(mode: mode, interval: rescanInterval, reportPresent: reportPresent,
                              continuation: continuation, control: control, logger: logger)
        continuation.onTermination = { [control] _ in control.stop() }
        let box = WatcherBox(watcher)
        thread = Mutex(WorkerThread(name: "adapter monitor") { box.watcher.run() })
    }

    deinit { stop() }

    /// Stops watching and ends `events`.
    public func stop() {
        control.stop()
        let running = thread.withLock { handle -> WorkerThread? in defer { handle = nil }; return handle }
        running?.join()
    }

    /// Whether a udev daemon runs here: without one, udev monitors hear nothing.
    public static var udevDaemonRuns: Bool { access("/run/udev/control", F_OK) == 0 }

    private static func effectiveMode(_ requested: Mode, logger: Logger, interval: Duration) -> Mode {
        guard requested == .automatic else { return requested }
        if udevDaemonRuns { return .udev }
        logger.notice("no udev daemon runs here (no /run/udev/control): watching for adapters by rescanning sysfs every \(interval)")
        return .rescan
    }
}

private final class WatcherBox: @unchecked Sendable {
    let watcher: Watcher
    init(_ watcher: Watcher) { self.watcher = watcher }
}

/// Stops a watcher thread blocked in poll: a flag and an eventfd to wake it.
final class MonitorControl: Sendable {
    let wake: Int32
    private let stopped = Mutex(false)

    init() { wake = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK)) }

    deinit { close(wake) }

    var isStopped: Bool { stopped.withLock { $0 } }

    func stop() {
        stopped.withLock { $0 = true }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }
}
