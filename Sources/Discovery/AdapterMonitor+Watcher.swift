#if canImport(Glibc)
import Glibc
#endif
import CUdev
import Logging

/// The monitor's thread: owns its libudev context from start to end.
struct Watcher: Sendable {
    let mode: AdapterMonitor.Mode
    let interval: Duration
    let reportPresent: Bool
    let continuation: AsyncStream<AdapterEvent>.Continuation
    let control: MonitorControl
    let logger: Logger

    func run() {
        defer { continuation.finish() }
        guard let context = UdevContext() else {
            logger.error("libudev could not start: no adapter events")
            return
        }
        switch mode {
        case .udev: listen(context)
        case .rescan, .automatic: rescan(context)
        }
    }

    /// Follows udev's events; the netlink monitor is opened before the first
    /// scan, so that nothing plugged in between is missed.
    private func listen(_ context: UdevContext) {
        guard let monitor = udev_monitor_new_from_netlink(context.handle, "udev") else {
            logger.error("udev monitor could not open: falling back to rescanning sysfs")
            return rescan(context)
        }
        defer { udev_monitor_unref(monitor) }
        udev_monitor_filter_add_match_subsystem_devtype(monitor, "tty", nil)
        udev_monitor_enable_receiving(monitor)
        var known = Dictionary(context.adapters().map { ($0.sysPath, $0) }, uniquingKeysWith: { first, _ in first })
        if reportPresent { known.values.sorted { $0.node < $1.node }.forEach { continuation.yield(.added($0)) } }
        let descriptor = udev_monitor_get_fd(monitor)
        while !control.isStopped {
            guard wait(for: descriptor, timeout: -1) else { continue }
            while let device = udev_monitor_receive_device(monitor) {
                handle(device, known: &known)
                udev_device_unref(device)
            }
        }
    }

    private func handle(_ device: OpaquePointer, known: inout [String: SerialAdapter]) {
        guard let action = UdevContext.string(udev_device_get_action(device)),
              let sysPath = UdevContext.string(udev_device_get_syspath(device)) else { return }
        switch action {
        case "add":
            // An add for a device already known (udevadm trigger, a replayed event) changes nothing.
            guard let adapter = UdevContext.adapter(from: device), known[sysPath] == nil else { return }
            known[sysPath] = adapter
            continuation.yield(.added(adapter))
        case "remove":
            // What udev sends on removal lacks the parents' attributes: report what was known.
            guard let adapter = known.removeValue(forKey: sysPath) ?? UdevContext.adapter(from: device) else { return }
            continuation.yield(.removed(adapter))
        default:
            break
        }
    }

    /// Compares a fresh scan with the last one every `interval`.
    private func rescan(_ context: UdevContext) {
        var known: [String: SerialAdapter] = [:]
        var first = true
        while !control.isStopped {
            let now = Dictionary(context.adapters().map { ($0.sysPath, $0) }, uniquingKeysWith: { first, _ in first })
            if !first || reportPresent {
                for (path, adapter) in known where now[path] == nil { continuation.yield(.removed(adapter)) }
                for (path, adapter) in now.sorted(by: { $0.key < $1.key }) where known[path] == nil { continuation.yield(.added(adapter)) }
            }
            first = false
            known = now
            let milliseconds = interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
            _ = wait(for: nil, timeout: Int32(clamping: max(1, milliseconds)))
        }
    }

    /// Polls `descriptor` (if any) and the stop event; true when the descriptor is readable.
    private func wait(for descriptor: Int32?, timeout milliseconds: Int32) -> Bool {
        var requests = [pollfd(fd: control.wake, events: Int16(POLLIN), revents: 0)]
        if let descriptor { requests.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)) }
        guard poll(&requests, nfds_t(requests.count), milliseconds) > 0 else { return false }
        return requests.count > 1 && requests[1].revents & Int16(POLLIN) != 0
    }
}
