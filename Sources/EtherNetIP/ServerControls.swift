import Synchronization

/// What a running EtherNet/IP server lets its web API change (cpppo's
/// `options.delay` and `server.control`): the delay before each reply, and
/// the latency and timeout cpppo's threads poll with, kept and reported for
/// the scripts that set them (an event-driven server has no polling latency).
public final class ServerControls: Sendable {
    public struct Delay: Sendable, Equatable {
        /// The delay now: fixed, or the last drawn from `range`.
        public var value: Double
        /// Drawn anew for each reply when set.
        public var range: ClosedRange<Double>?
    }

    private let delay: Mutex<Delay>
    private let times = Mutex((latency: 0.1, timeout: 0.2))

    public init(delay range: ClosedRange<Double>? = nil) {
        let fixed = range.map { $0.lowerBound == $0.upperBound ? $0.lowerBound : 0 } ?? 0
        delay = Mutex(Delay(value: fixed, range: range.flatMap { $0.lowerBound == $0.upperBound ? nil : $0 }))
    }

    public var currentDelay: Delay { delay.withLock { $0 } }

    /// A fixed delay, in seconds (0: none); clears the range.
    public func setDelay(_ seconds: Double) { delay.withLock { $0 = Delay(value: seconds, range: nil) } }

    /// A delay drawn for each reply from `range`.
    public func setDelay(range: ClosedRange<Double>) { delay.withLock { $0.range = range } }

    /// The delay for the next reply, nil for none.
    func nextDelay() -> Double? {
        delay.withLock { delay in
            if let range = delay.range { delay.value = Double.random(in: range) }
            return delay.value > 0 ? delay.value : nil
        }
    }

    public var latency: Double {
        get { times.withLock { $0.latency } }
        set { times.withLock { $0.latency = newValue } }
    }

    public var timeout: Double {
        get { times.withLock { $0.timeout } }
        set { times.withLock { $0.timeout = newValue } }
    }
}
