import Synchronization

/// What a running EtherNet/IP server lets its web API change (cpppo's
/// `options.delay` and `server.control`): the delay before each reply, and
/// the latency and timeout cpppo's threads poll with, kept and reported for
/// the scripts that set them (an event-driven server has no polling latency).
public final class ServerControls: Sendable {
    /// The reply delay in force, in seconds.
    public struct Delay: Sendable, Equatable {
        /// The delay now: fixed, or the last drawn from `range`.
        public var value: Double
        /// Drawn anew for each reply when set.
        public var range: ClosedRange<Double>?
    }

    /// The longest delay accepted, in seconds (a day): longer ones, and ones
    /// not finite, would overflow the event loop's nanoseconds.
    public static let longestDelay = 86_400.0

    private let delay: Mutex<Delay>
    /// Whether any delay is set: a reply with none pays one atomic load.
    private let delaying = Atomic(false)
    private let times = Mutex((latency: 0.1, timeout: 0.2))

    /// Controls with `delay` (seconds): a fixed delay when both ends are equal, else one
    /// drawn per reply; nil for none.
    public init(delay range: ClosedRange<Double>? = nil) {
        let fixed = range.map { $0.lowerBound == $0.upperBound ? $0.lowerBound : 0 } ?? 0
        delay = Mutex(Delay(value: fixed, range: range.flatMap { $0.lowerBound == $0.upperBound ? nil : $0 }))
        delaying.store(range != nil, ordering: .relaxed)
    }

    /// Whether `seconds` may be a delay: finite, 0 to a day.
    public static func isValidDelay(_ seconds: Double) -> Bool { seconds.isFinite && (0...longestDelay).contains(seconds) }

    /// The delay now, for the web API to report.
    public var currentDelay: Delay { delay.withLock { $0 } }

    /// A fixed delay, in seconds (0: none); clears the range.
    public func setDelay(_ seconds: Double) {
        let seconds = Self.isValidDelay(seconds) ? seconds : 0
        delay.withLock { $0 = Delay(value: seconds, range: nil) }
        delaying.store(seconds > 0, ordering: .relaxed)
    }

    /// A delay drawn for each reply from `range` (both ends checked as `isValidDelay`).
    public func setDelay(range: ClosedRange<Double>) {
        guard Self.isValidDelay(range.lowerBound), Self.isValidDelay(range.upperBound) else { return }
        delay.withLock { $0.range = range }
        delaying.store(true, ordering: .relaxed)
    }

    /// The delay for the next reply, nil for none.
    func nextDelay() -> Double? {
        guard delaying.load(ordering: .relaxed) else { return nil }
        return delay.withLock { delay in
            if let range = delay.range { delay.value = Double.random(in: range) }
            return delay.value > 0 ? delay.value : nil
        }
    }

    /// cpppo's `server.control.latency`, in seconds: kept and reported, with no
    /// effect here.
    public var latency: Double {
        get { times.withLock { $0.latency } }
        set { times.withLock { $0.latency = newValue } }
    }

    /// cpppo's `server.control.timeout`, in seconds: kept and reported, with no
    /// effect here.
    public var timeout: Double {
        get { times.withLock { $0.timeout } }
        set { times.withLock { $0.timeout = newValue } }
    }
}
