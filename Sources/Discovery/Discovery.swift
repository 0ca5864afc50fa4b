import Logging

/// Finds serial adapters: a snapshot now, a matcher resolved now, and a
/// stream of plug and unplug events (see `AdapterMonitor`).
public enum Discovery {
    /// libudev could not make a context, so no adapters can be listed.
    public struct UnavailableError: Error, Sendable, Hashable, CustomStringConvertible {
        /// Says that libudev could not start.
        public var description: String { "libudev could not start (udev_new failed)" }
    }

    /// Every serial adapter present, sorted by node.
    public static func adapters() throws(UnavailableError) -> [SerialAdapter] {
        guard let context = UdevContext() else { throw UnavailableError() }
        return context.adapters()
    }

    /// A latency timer that could not be set: out of range, not an FTDI adapter,
    /// refused by sysfs, or read back different.
    public struct LatencyTimerError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The adapter as it was given.
        public let adapter: SerialAdapter
        /// Why the timer was not set, and how to fix it where there is a way.
        public let reason: String
        /// The node and the reason.
        public var description: String { "\(adapter.node): latency timer: \(reason)" }
    }

    /// Sets an FTDI adapter's latency timer (1–255 ms) through sysfs, which
    /// needs root or udev/60-fieldgw.rules; returns the adapter as it now reads.
    public static func setLatencyTimer(_ milliseconds: Int, on adapter: SerialAdapter) throws -> SerialAdapter {
        guard (1...255).contains(milliseconds) else {
            throw LatencyTimerError(adapter: adapter, reason: "must be 1 to 255 ms, not \(milliseconds)")
        }
        guard adapter.latencyTimer != nil else {
            throw LatencyTimerError(adapter: adapter, reason: "only FTDI adapters have one (\(adapter.chip ?? adapter.driver ?? "unknown chip") has not)")
        }
        guard let context = UdevContext() else { throw UnavailableError() }
        guard let readBack = context.setLatencyTimer(milliseconds, sysPath: adapter.sysPath) else {
            throw LatencyTimerError(adapter: adapter, reason: "sysfs refused the write (run as root, or install udev/60-fieldgw.rules)")
        }
        guard readBack == milliseconds else {
            throw LatencyTimerError(adapter: adapter, reason: "set \(milliseconds) ms, read back \(readBack)")
        }
        var updated = adapter
        updated.latencyTimer = readBack
        return updated
    }

    /// The one adapter `matcher` names now. Call again after a re-plug: the node may have changed.
    public static func resolve(_ matcher: AdapterMatcher) throws -> SerialAdapter {
        try matcher.resolve(in: adapters())
    }
}
