/// What a line's `Bus` knows of one slave: how fast it answers, the timeout
/// learned from that, and a circuit breaker, so that one dead slave costs the
/// line a few timeouts and then almost nothing.
///
/// The timeout is TCP's retransmission estimator (RFC 6298): the smoothed
/// latency plus four deviations, within the policy's bounds; until a first
/// answer it is the upper bound. After `failuresToOpen` timeouts in a row,
/// when the slave also answered fewer than half of its last `window`
/// requests, the breaker opens: requests fail at once (the gateway answers
/// 0x0B) for a back-off period, then one request goes through as a probe. An
/// answer closes the breaker; another timeout opens it again for twice as long.
///
/// A slave that answers anything is alive: data, an exception, or a reply
/// the line damaged (a CRC error, `heard()`). On a noisy line, requests the
/// noise destroyed on the way out time out now and then; the half-the-window
/// rule keeps such a slave, which answers most requests, out of the breaker,
/// while a slave that dies still opens it within `window` requests.
public struct SlaveHealth: Sendable {
    /// The bounds of the learned timeout and the breaker's rules.
    public struct Policy: Sendable, Hashable {
        /// The least timeout, however fast the slave answers.
        public var minimumTimeout: Duration
        /// The most timeout: a request's until the first answer, and a probe's.
        public var maximumTimeout: Duration
        /// Timeouts in a row that can open the breaker.
        public var failuresToOpen: Int
        /// How long the breaker first stays open.
        public var backoff: Duration
        /// The longest it stays open, doubling each time a probe fails.
        public var maximumBackoff: Duration
        /// How many of the latest requests the answered fraction is taken over.
        public var window: Int

        /// A policy with the configuration file's defaults.
        public init(minimumTimeout: Duration = .milliseconds(50), maximumTimeout: Duration = .seconds(1),
                    failuresToOpen: Int = 3, backoff: Duration = .seconds(5), maximumBackoff: Duration = .seconds(60), window: Int = 10) {
            self.minimumTimeout = minimumTimeout
            self.maximumTimeout = maximumTimeout
            self.failuresToOpen = failuresToOpen
            self.backoff = backoff
            self.maximumBackoff = maximumBackoff
            self.window = window
        }
    }

    /// What to do with the next request to the slave.
    public enum Decision: Sendable, Hashable {
        /// Send, waiting this long for the slave (beyond the frames' own time on the wire).
        case send(timeout: Duration)
        /// The breaker is open: answer at once that the slave does not respond.
        case failFast
    }

    /// The circuit breaker's state.
    public enum Breaker: Sendable, Hashable {
        /// Requests go to the slave.
        case closed
        /// Requests fail fast until `until`; the next one then goes as a probe.
        case open(until: ContinuousClock.Instant)
        /// One probe is out; everything else fails fast until it is answered.
        case probing
    }

    /// The rules this slave's health follows.
    public let policy: Policy
    /// The breaker's state now.
    public private(set) var breaker = Breaker.closed
    /// Timeouts since the slave last sent anything.
    public private(set) var consecutiveTimeouts = 0
    /// Smoothed latency and its mean deviation, in seconds; nil before a first answer.
    public private(set) var smoothedLatency: Double?
    /// Something ever came from it: the status lists it from then on.
    public private(set) var everHeard = false
    private var latencyDeviation = 0.0
    private var nextBackoff: Duration
    /// Whether each of the latest requests (up to `window`) was answered, oldest first.
    private var recent: [Bool] = []

    /// The fraction of the latest requests the slave answered (1 before any).
    public var answeredFraction: Double {
        recent.isEmpty ? 1 : Double(recent.count { $0 }) / Double(recent.count)
    }

    /// A slave not yet heard from: the breaker closed, the timeout the maximum.
    public init(policy: Policy = Policy()) {
        self.policy = policy
        nextBackoff = policy.backoff
    }

    /// The timeout a request to this slave gets now.
    public var timeout: Duration {
        guard let smoothedLatency else { return policy.maximumTimeout }
        let learned = Duration.seconds(smoothedLatency + 4 * latencyDeviation)
        return min(policy.maximumTimeout, max(policy.minimumTimeout, learned))
    }

    /// Whether the next request goes, and with what timeout; an open breaker
    /// whose back-off is over lets this one through as the probe.
    public mutating func decide(at now: ContinuousClock.Instant) -> Decision {
        switch breaker {
        case .closed:
            return .send(timeout: timeout)
        case .open(let until) where now >= until:
            breaker = .probing
            return .send(timeout: policy.maximumTimeout)
        case .open, .probing:
            return .failFast
        }
    }

    /// The slave answered (data or a Modbus exception) after `latency`.
    public mutating func answered(after latency: Duration) {
        let sample = Double(latency.components.seconds) + Double(latency.components.attoseconds) * 1e-18
        if let smoothed = smoothedLatency {
            latencyDeviation = 0.75 * latencyDeviation + 0.25 * abs(smoothed - sample)
            smoothedLatency = 0.875 * smoothed + 0.125 * sample
        } else {
            smoothedLatency = sample
            latencyDeviation = sample / 2
        }
        heard()
    }

    /// The slave sent something, though the line damaged it (a CRC error):
    /// it is alive, and the breaker closes; no latency is learned from it.
    public mutating func heard() {
        everHeard = true
        remember(answered: true)
        consecutiveTimeouts = 0
        breaker = .closed
        nextBackoff = policy.backoff
    }

    /// The slave did not answer in time: nothing at all came from it.
    public mutating func timedOut(at now: ContinuousClock.Instant) {
        consecutiveTimeouts += 1
        remember(answered: false)
        if case .probing = breaker {
            open(at: now)
        } else if consecutiveTimeouts >= policy.failuresToOpen && answeredFraction < 0.5 {
            open(at: now)
        }
    }

    private mutating func remember(answered: Bool) {
        recent.append(answered)
        if recent.count > max(1, policy.window) { recent.removeFirst() }
    }

    private mutating func open(at now: ContinuousClock.Instant) {
        breaker = .open(until: now + nextBackoff)
        nextBackoff = min(policy.maximumBackoff, nextBackoff * 2)
    }
}
