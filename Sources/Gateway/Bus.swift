import CoreMetrics
import Foundation
import Logging
import Modbus
import NIOCore
import NIOPosix
import Serial
import Synchronization

/// One serial line of the gateway: it owns the port and runs one transaction
/// at a time on a thread of its own, taking requests from a `BusQueue` in
/// priority order. Each slave has its own `SlaveHealth`, so that a dead slave
/// costs the line a few timeouts and is then answered at once with 0x0B while
/// the others go on. Results come back as futures on the caller's event loop.
///
/// Failures become the exceptions a gateway answers: 0x06 when the queue is
/// full, 0x0B when the slave does not answer (or its breaker is open), 0x0A
/// when the line is down.
public final class Bus: Sendable {
    public struct Options: Sendable, Hashable {
        public var health: SlaveHealth.Policy
        /// Requests waiting, beyond which the line answers 0x06.
        public var queueCapacity: Int
        public var retries: Int
        /// The pause after a broadcast, for every slave to act on it.
        public var turnaround: Duration
        /// How often a line that is down tries to open its adapter again.
        public var reopenInterval: Duration
        /// The least silence before each request (slow slaves); the spec's t3.5 when shorter.
        public var interFrameDelay: Duration = .zero
        /// The span over which the line's utilisation (busy time ÷ time) is measured.
        public var utilisationWindow: Duration = .seconds(10)

        public init(health: SlaveHealth.Policy = .init(), queueCapacity: Int = 64, retries: Int = 0, turnaround: Duration = .milliseconds(100),
                    reopenInterval: Duration = .milliseconds(500)) {
            self.health = health
            self.queueCapacity = queueCapacity
            self.retries = retries
            self.turnaround = turnaround
            self.reopenInterval = reopenInterval
        }
    }

    /// A line's figures, for status and metrics.
    public struct Counters: Sendable, Hashable {
        public var transactions = 0
        public var timeouts = 0
        public var failedFast = 0
        public var refusedFull = 0
        public var droppedGone = 0
        public var exceptions = 0
    }

    public let name: String
    private let state: Mutex<State>
    private let work = DispatchSemaphore(value: 0)
    /// Set when the line's thread has ended; those waiting in `close()` resume then.
    private let ended = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    private let options: Options
    let logger: Logger
    private let metrics: LineMetrics

    private struct State {
        var queue: BusQueue<Pending>
        var health: [UInt8: SlaveHealth] = [:]
        var counters = Counters()
        var framer = RTUFramer.Counters()
        var running = true
        var up: Bool
        /// Why the line is down, while it is.
        var downReason: String?
        var utilisation = Utilisation()
    }

    /// Busy time over a window: the fraction of the last whole window the line
    /// spent in transactions (the current one until a first window ends).
    struct Utilisation {
        var windowStart = ContinuousClock.now
        var busy = Duration.zero
        var last: Double?

        /// Adds `busy` time; returns the window's figure when one has just ended.
        mutating func add(_ time: Duration, window: Duration) -> Double? {
            busy += time
            let now = ContinuousClock.now
            guard now - windowStart >= window else { return nil }
            let figure = min(1, busy.seconds / (now - windowStart).seconds)
            (last, busy, windowStart) = (figure, .zero, now)
            return figure
        }

        var current: Double { last ?? min(1, busy.seconds / max(1e-9, (ContinuousClock.now - windowStart).seconds)) }
    }

    struct Pending {
        let pdu: [UInt8]
        let slave: UInt8
        let connection: ModbusConnection?
        let promise: EventLoopPromise<[UInt8]?>
    }

    /// Starts the line's thread on `port`; if the line fails (an adapter
    /// unplugged), it is opened again at the same path and settings.
    public convenience init(name: String, port: SerialPort, options: Options = .init(), logger: Logger,
                            metrics: any MetricsFactory = MetricsSystem.factory) {
        let (path, settings) = (port.path, port.settings)
        self.init(name: name, first: PortHandOver(port: port), open: { try SerialPort(path: path, settings: settings) },
                  options: options, logger: logger, metrics: metrics)
    }

    /// Starts the line's thread, which opens the port with `open`. While it
    /// cannot (no adapter), the line is down: requests are answered 0x0A, and
    /// `open` is tried again every `reopenInterval` until an adapter is back.
    public convenience init(name: String, open: @escaping @Sendable () throws -> SerialPort, options: Options = .init(), logger: Logger,
                            metrics: any MetricsFactory = MetricsSystem.factory) {
        // Opened here first, so that a line whose adapter is there is up from the start.
        var first: PortHandOver?
        var reason: String?
        do {
            first = PortHandOver(port: try open())
        } catch {
            reason = Self.downReason(error)
            logger.warning("line \(name) is down: \(reason!); waiting for it", metadata: ["line": "\(name)", "event": "line-down"])
        }
        self.init(name: name, first: first, open: open, options: options, logger: logger, metrics: metrics)
        state.withLock { $0.downReason = reason }
    }

    /// Why an adapter could not be opened, as an operator needs it: busy (and
    /// who holds it) is not the same trouble as missing.
    static func downReason(_ error: any Error) -> String {
        guard let serial = error as? SerialError else { return "its adapter is not there (\(error))" }
        switch serial.code {
        case .busy: return "its adapter \(serial.path) is busy, \(serial.detail)"
        case .open where serial.detail.hasSuffix("No such file or directory"): return "its adapter \(serial.path) is not there"
        default: return "its adapter \(serial.path) cannot be opened: \(serial.detail)"
        }
    }

    private init(name: String, first: PortHandOver?, open: @escaping @Sendable () throws -> SerialPort, options: Options, logger: Logger,
                 metrics: any MetricsFactory) {
        self.name = name
        self.options = options
        self.logger = logger
        self.metrics = LineMetrics(line: name, factory: metrics)
        state = Mutex(State(queue: BusQueue(capacity: options.queueCapacity), up: first != nil))
        let thread = Thread { [self] in run(first: first, open: open) }
        thread.name = "bus \(name)"
        thread.start()
    }

    public var counters: Counters { state.withLock { $0.counters } }
    /// What the line's RTU framer has seen: frames, noise bytes, CRC errors, echoes, timeouts.
    public var framerCounters: RTUFramer.Counters { state.withLock { $0.framer } }
    /// Every slave the line has talked to, and what it knows of each.
    public var slaves: [UInt8: SlaveHealth] { state.withLock { $0.health } }
    public var isUp: Bool { state.withLock { $0.up } }
    /// Why the line is down (its adapter missing, or busy and held by whom); nil while up.
    public var downReason: String? { state.withLock { $0.up ? nil : $0.downReason } }
    /// Requests waiting for the line.
    public var queueDepth: Int { state.withLock { $0.queue.count } }
    /// The fraction of the last utilisation window the line was busy.
    public var utilisation: Double { state.withLock { $0.utilisation.current } }

    /// Queues a request PDU for `slave`; the future holds the reply PDU (a
    /// slave's exception, or the gateway's own 0x06/0x0A/0x0B), or nil for a broadcast.
    public func submit(_ pdu: [UInt8], to slave: UInt8, priority: BusPriority, from connection: ModbusConnection? = nil,
                       on eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
        let promise = eventLoop.makePromise(of: [UInt8]?.self)
        let pending = Pending(pdu: pdu, slave: slave, connection: connection, promise: promise)
        let (refusal, displaced): (ExceptionCode?, Pending?) = state.withLock { state in
            guard state.running && state.up else { return (.gatewayPathUnavailable, nil) }
            switch state.queue.push(pending, priority: priority, client: connection?.id ?? 0) {
            case .refused:
                state.counters.refusedFull += 1
                return (.serverBusy, nil)
            case .queuedDisplacing(let other):
                state.counters.refusedFull += 1
                return (nil, other)
            case .queued:
                metrics.queueDepth.record(state.queue.count)
                return (nil, nil)
            }
        }
        if refusal == .serverBusy || displaced != nil { metrics.refusedBusy.increment() }
        // The client holding the most of a full queue is the one refused.
        if let displaced { displaced.promise.succeed(Self.exception(.serverBusy, to: displaced.pdu)) }
        if let refusal {
            promise.succeed(Self.exception(refusal, to: pdu))
        } else {
            work.signal()
        }
        return promise.futureResult
    }

    /// `submit`, awaited: for callers outside an event loop (the poller).
    public func request(_ pdu: [UInt8], to slave: UInt8, priority: BusPriority) async -> [UInt8]? {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        // submit never fails its future: every failure is an exception PDU.
        return try? await submit(pdu, to: slave, priority: priority, on: loop).get()
    }

    /// Stops after the transaction in flight, which it waits for (without
    /// holding a thread); whatever waits in the queue is answered 0x0A.
    public func close() async {
        let waiting = state.withLock { state in
            state.running = false
            defer { metrics.queueDepth.record(state.queue.count) }
            return state.queue.drain()
        }
        for pending in waiting { pending.promise.succeed(Self.exception(.gatewayPathUnavailable, to: pending.pdu)) }
        work.signal()
        await withCheckedContinuation { continuation in
            let done = ended.withLock { ended in
                if !ended.done { ended.waiters.append(continuation) }
                return ended.done
            }
            if done { continuation.resume() }
        }
    }

    private func finish() {
        let waiters = ended.withLock { ended in
            ended.done = true
            defer { ended.waiters = [] }
            return ended.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// The line's thread. Its waiters hear it ended only once `serve` has
    /// returned and let the port go: a line restarted by a reload opens the
    /// same adapter at once, and the old one must no longer hold it.
    private func run(first: PortHandOver?, open: @Sendable () throws -> SerialPort) {
        serve(first: first, open: open)
        finish()
    }

    /// Only `master` holds the port (taken from the hand-over here, not
    /// passed in: an argument would be kept alive by the caller).
    private func serve(first: PortHandOver?, open: @Sendable () throws -> SerialPort) {
        var master = first?.take().map(makeMaster)
        while state.withLock({ $0.running }) {
            guard let current = master ?? reopen(open) else {
                _ = work.wait(timeout: .now() + .milliseconds(Int(options.reopenInterval.seconds * 1000)))
                continue
            }
            master = current
            work.wait()
            guard let pending = state.withLock({ $0.running ? $0.queue.pop() : nil }) else { continue }
            if let connection = pending.connection, !connection.isOpen {
                state.withLock { $0.counters.droppedGone += 1 }
                pending.promise.succeed(nil)
                continue
            }
            let started = ContinuousClock.now
            pending.promise.succeed(transact(pending, on: current))
            let framer = current.counters
            let (old, utilisation) = state.withLock { state in
                defer { state.framer = framer }
                metrics.queueDepth.record(state.queue.count)
                return (state.framer, state.utilisation.add(ContinuousClock.now - started, window: options.utilisationWindow))
            }
            metrics.framer(from: old, to: framer)
            if let utilisation { metrics.utilisation.record(utilisation) }
            if !isUp { master = nil }
        }
    }

    private func makeMaster(_ port: SerialPort) -> RTUMaster {
        let master = RTUMaster(port: port, slaveTimeout: options.health.maximumTimeout, retries: options.retries, turnaround: options.turnaround)
        master.interFrameDelay = options.interFrameDelay
        return master
    }

    /// The line's port opened again (or for the first time): the line is up.
    private func reopen(_ open: @Sendable () throws -> SerialPort) -> RTUMaster? {
        guard let port = try? open() else { return nil }
        logger.notice("line \(name) is up on \(port.path)", metadata: ["line": "\(name)", "event": "line-up"])
        state.withLock { state in
            state.up = true
            state.health.removeAll()
        }
        return makeMaster(port)
    }

    /// One transaction, as the slave's health allows; the reply PDU to give the client.
    private func transact(_ pending: Pending, on master: RTUMaster) -> [UInt8]? {
        let request: Request
        do {
            request = try Request(pdu: pending.pdu[...])
        } catch {
            // A function we do not know goes to the line as it is; a known one we cannot read is the client's mistake.
            guard let function = pending.pdu.first, !FunctionCode.supported.contains(FunctionCode(function)) else {
                return [error.function | 0x80, error.code.rawValue]
            }
            return passThrough(pending, on: master)
        }
        guard pending.slave != 0 else { return broadcast(request, on: master) }
        guard let timeout = admit(pending.slave) else { return Self.exception(.gatewayTargetFailed, to: pending.pdu) }
        master.slaveTimeout = timeout
        let start = ContinuousClock.now
        let damagedBefore = master.counters.crcErrors
        do {
            let response = try master.send(request, unit: pending.slave)
            record(pending.slave, latency: ContinuousClock.now - start - wireTime(request, master.port.settings), response: response)
            return response?.pdu(for: request)
        } catch {
            // A reply the line damaged still shows the slave is there.
            let heard = error.code == .malformedReply || master.counters.crcErrors > damagedBefore
            return failed(pending, error: error, health: heard ? .heard : .timedOut)
        }
    }

    /// What a failed transaction tells of the slave's health.
    private enum Evidence {
        /// Nothing came from the slave: it counts towards its breaker.
        case timedOut
        /// Something came, damaged: the slave is alive.
        case heard
        /// Nothing to learn: a function the gateway does not know may simply go unanswered.
        case none
    }

    /// The timeout `slave` gets now, or nil when its breaker is open (counted: failed fast).
    private func admit(_ slave: UInt8) -> Duration? {
        let decision = state.withLock { $0.health[slave, default: SlaveHealth(policy: options.health)].decide(at: .now) }
        guard case .send(let timeout) = decision else {
            state.withLock { $0.counters.failedFast += 1 }
            metrics.failedFast.increment()
            return nil
        }
        return timeout
    }

    /// A request of an unknown function, with the same health, timing and
    /// failures as any other; its reply ends by silence.
    private func passThrough(_ pending: Pending, on master: RTUMaster) -> [UInt8]? {
        // Neither probes the breaker nor closes it: only requests the gateway knows do.
        let health = state.withLock { $0.health[pending.slave] }
        guard health?.breaker ?? .closed == .closed else {
            state.withLock { $0.counters.failedFast += 1 }
            metrics.failedFast.increment()
            return Self.exception(.gatewayTargetFailed, to: pending.pdu)
        }
        master.slaveTimeout = health?.timeout ?? options.health.maximumTimeout
        let start = ContinuousClock.now
        do {
            let reply = try master.passThrough(pending.pdu, unit: pending.slave)
            record(pending.slave, latency: ContinuousClock.now - start, response: nil)
            return reply
        } catch {
            // Many slaves ignore functions they do not know: a client sending
            // such requests must not open the breaker for every other client.
            return failed(pending, error: error, health: error.code == .malformedReply ? .heard : .none)
        }
    }

    private func broadcast(_ request: Request, on master: RTUMaster) -> [UInt8]? {
        do {
            _ = try master.send(request, unit: 0)
        } catch {
            logger.notice("broadcast on \(name) failed: \(error)")
        }
        return nil
    }

    private func record(_ slave: UInt8, latency: Duration, response: Response?) {
        metrics.transactions.increment()
        metrics.latency(slave, max(.zero, latency))
        if case .exception? = response { metrics.exceptions.increment() }
        state.withLock { state in
            state.counters.transactions += 1
            if case .exception? = response { state.counters.exceptions += 1 }
        }
        updateHealth(slave) { $0.answered(after: max(.zero, latency)) }
    }

    /// Changes `slave`'s health; a breaker that opens or closes is an event in the log.
    private func updateHealth(_ slave: UInt8, _ change: (inout SlaveHealth) -> Void) {
        let (before, after) = state.withLock { state in
            let before = state.health[slave]?.breaker ?? .closed
            change(&state.health[slave, default: SlaveHealth(policy: options.health)])
            return (before, state.health[slave]?.breaker ?? .closed)
        }
        var metadata: Logger.Metadata = ["line": "\(name)", "slave": "\(slave)"]
        let opened = { (breaker: SlaveHealth.Breaker) -> Bool in if case .open = breaker { true } else { false } }
        // Open again after a failed probe is not news; from closed it is.
        if opened(after) && before == .closed {
            metadata["event"] = "breaker-open"
            logger.notice("slave \(slave) on line \(name): breaker open, it does not answer", metadata: metadata)
        } else if after == .closed && before != .closed {
            metadata["event"] = "breaker-closed"
            logger.notice("slave \(slave) on line \(name): breaker closed, it answers again", metadata: metadata)
        }
    }

    private func failed(_ pending: Pending, error: ModbusError, health evidence: Evidence) -> [UInt8] {
        switch error.code {
        case .connection:
            logger.warning("line \(name) is down: \(error.detail)", metadata: ["line": "\(name)", "event": "line-down"])
            let waiting = state.withLock { state in
                state.up = false
                state.downReason = "the line failed: \(error.detail)"
                return state.queue.drain()
            }
            for other in waiting { other.promise.succeed(Self.exception(.gatewayPathUnavailable, to: other.pdu)) }
            return Self.exception(.gatewayPathUnavailable, to: pending.pdu)
        default:
            metrics.transactions.increment()
            metrics.timeouts.increment()
            state.withLock { state in
                state.counters.transactions += 1
                state.counters.timeouts += 1
            }
            switch evidence {
            case .timedOut: updateHealth(pending.slave) { $0.timedOut(at: .now) }
            case .heard: updateHealth(pending.slave) { $0.heard() }
            case .none: break
            }
            return Self.exception(.gatewayTargetFailed, to: pending.pdu)
        }
    }

    /// The request's and the reply's time on the wire, which the latency leaves out.
    private func wireTime(_ request: Request, _ settings: SerialSettings) -> Duration {
        settings.characterTime * (request.pdu.count + 3 + request.replyFrameLength)
    }

    static func exception(_ code: ExceptionCode, to pdu: [UInt8]) -> [UInt8] {
        [(pdu.first ?? 0) | 0x80, code.rawValue]
    }
}

/// Carries the port from the caller to the line's thread, its only user from
/// then on: the caller gives it up when it makes the Bus.
/// The port a line was opened with, passed to its thread once. The thread's
/// closure lives as long as the thread does, so it must not keep the port:
/// `take` leaves nothing behind, and the port closes when the line ends.
private final class PortHandOver: @unchecked Sendable {
    private var port: SerialPort?
    private let lock = NSLock()

    init(port: SerialPort) { self.port = port }

    func take() -> SerialPort? {
        lock.lock()
        defer { lock.unlock() }
        defer { port = nil }
        return port
    }
}
