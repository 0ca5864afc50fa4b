import CoreMetrics
import Foundation
import Logging
import Modbus
import NIOCore
import NIOPosix
import Serial
import Synchronization
import Threads

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
    /// How a line queues, times and retries its transactions, and reopens its link.
    public struct Options: Sendable, Hashable {
        /// How each slave's timeout is learned and when its breaker opens.
        public var health: SlaveHealth.Policy
        /// Requests waiting, beyond which the line answers 0x06.
        public var queueCapacity: Int
        /// Extra attempts on a serial line after a timeout or a malformed reply,
        /// before the client is answered 0x0B.
        public var retries: Int
        /// The pause after a broadcast, for every slave to act on it.
        public var turnaround: Duration
        /// How soon a line that is down tries to open its adapter (or connect) again.
        public var reopenInterval: Duration
        /// The longest pause between those tries: each failed one doubles it up to this.
        public var reopenMaximum: Duration = .zero
        /// The least silence before each request (slow slaves); the spec's t3.5 when shorter.
        public var interFrameDelay: Duration = .zero
        /// The span over which the line's utilisation (busy time ÷ time) is measured.
        public var utilisationWindow: Duration = .seconds(10)

        /// Options with the configuration file's defaults.
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
        /// Transactions that went on the line and ended: answered (data or an
        /// exception), or failed.
        public var transactions = 0
        /// Transactions with no valid reply, answered 0x0B.
        public var timeouts = 0
        /// Requests answered 0x0B at once, without the line, while their slave's
        /// breaker was open.
        public var failedFast = 0
        /// Requests answered 0x06 because the queue was full (the one displaced
        /// from a full queue among them).
        public var refusedFull = 0
        /// Requests dropped unsent because their client had disconnected.
        public var droppedGone = 0
        /// Replies that were the slave's own exceptions.
        public var exceptions = 0
    }

    /// The line's name from the configuration, as logs, metrics and status show it.
    public let name: String
    private let state: Mutex<State>
    /// Told of each write a slave carried out (the historian); checked with one
    /// atomic load per request when there are none.
    private let writeObservers = Mutex<[Int: WriteObserver]>([:])
    private let observingWrites = Atomic(false)
    private let nextObserver = Atomic(0)

    /// A write request's PDU, and the slave that carried it out (not an exception).
    public typealias WriteObserver = @Sendable (_ slave: UInt8, _ pdu: [UInt8]) -> Void
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
        /// Why the link failed, until the line's thread has opened it again.
        var broken: String?
        /// Counts the links opened, so that a late break from an old one is ignored.
        var generation = 0
        /// When the link was last opened.
        var opened = ContinuousClock.now
        /// The link whose counters `framer` counts now, the figures of the
        /// links before it, and the latest of its own.
        var countedLink = (generation: 0, base: RTUFramer.Counters(), latest: RTUFramer.Counters())
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
        /// Called once with the reply, on whichever thread has it (the line's, mostly).
        let deliver: ReplyHandler
    }

    /// Called with the reply PDU (a slave's exception, or the gateway's own), or nil for a broadcast.
    public typealias ReplyHandler = @Sendable ([UInt8]?) -> Void

    /// Opens a line's link; a link that breaks by itself (a remote that hung
    /// up while idle) calls the function it is given, with the reason.
    public typealias LinkOpener = @Sendable (_ onBreak: @escaping @Sendable (String) -> Void) throws -> any LineLink

    /// Starts the line's thread on `port` (RTU); if the line fails (an adapter
    /// unplugged), it is opened again at the same path and settings.
    public convenience init(name: String, port: SerialPort, options: Options = .init(), logger: Logger,
                            metrics: any MetricsFactory = MetricsSystem.factory) {
        let (path, settings) = (port.path, port.settings)
        self.init(name: name, first: LinkHandOver(link: Self.rtu(port, options)),
                  open: { _ in Self.rtu(try SerialPort(path: path, settings: settings), options) },
                  options: options, logger: logger, metrics: metrics)
    }

    /// An RTU line on the port `open` opens (see `init(name:link:options:logger:metrics:)`).
    public convenience init(name: String, open: @escaping @Sendable () throws -> SerialPort, options: Options = .init(), logger: Logger,
                            metrics: any MetricsFactory = MetricsSystem.factory) {
        self.init(name: name, link: { _ in Self.rtu(try open(), options) }, options: options, logger: logger, metrics: metrics)
    }

    /// Starts the line's thread, which opens its link with `link`. While it
    /// cannot (no adapter, no connection), the line is down: requests are
    /// answered 0x0A, and `link` is tried again after `reopenInterval`,
    /// doubling up to `reopenMaximum`, until it opens.
    public convenience init(name: String, link open: @escaping LinkOpener, options: Options = .init(), logger: Logger,
                            metrics: any MetricsFactory = MetricsSystem.factory) {
        // Opened here first, so that a line whose adapter is there is up from the start.
        let breaks = BreakRelay()
        var first: LinkHandOver?
        var reason: String?
        do {
            first = LinkHandOver(link: try Self.openFirst(open, onBreak: { breaks.relay($0) }))
        } catch {
            reason = Self.downReason(error)
            logger.warning("line \(name) is down: \(reason!); waiting for it", metadata: ["line": "\(name)", "event": "line-down"])
        }
        self.init(name: name, first: first, open: open, options: options, logger: logger, metrics: metrics)
        state.withLock { $0.downReason = reason }
        breaks.connect { [weak self] reason in self?.markBroken(reason, generation: 0) }
    }

    /// Opens the first link, trying again for a moment while the adapter is
    /// busy. A process that forks (a program using these libraries that runs
    /// others, a test runner) gives its child a copy of every descriptor, and
    /// with it the lock of a port, until the child execs: a line restarted by a
    /// reload, opening its adapter again at once, could find the port it had
    /// just closed still locked (2 reopens in 3,000 while two threads spawned
    /// processes, here).
    static func openFirst(_ open: LinkOpener, onBreak: @escaping @Sendable (String) -> Void) throws -> any LineLink {
        for _ in 0..<busyRetries {
            do {
                return try open(onBreak)
            } catch let error as SerialError where error.code == .busy {
                usleep(UInt32(busyPause.components.attoseconds / 1_000_000_000_000))
            }
        }
        return try open(onBreak)
    }

    /// 10 tries 25 ms apart: a child holds the copy from its fork to its exec, a moment unless the machine is loaded.
    static let busyRetries = 10
    static let busyPause = Duration.milliseconds(25)

    /// Why a link could not be opened, as an operator needs it: busy (and
    /// who holds it) is not the same trouble as missing.
    static func downReason(_ error: any Error) -> String {
        guard let serial = error as? SerialError else { return "its adapter is not there (\(error))" }
        if serial.path.first != "/" { return "it cannot connect to \(serial.path): \(serial.detail)" }
        switch serial.code {
        case .busy: return "its adapter \(serial.path) is busy, \(serial.detail)"
        case .open where serial.detail.hasSuffix("No such file or directory"): return "its adapter \(serial.path) is not there"
        default: return "its adapter \(serial.path) cannot be opened: \(serial.detail)"
        }
    }

    private init(name: String, first: LinkHandOver?, open: @escaping LinkOpener, options: Options, logger: Logger,
                 metrics: any MetricsFactory) {
        self.name = name
        self.options = options
        self.logger = logger
        self.metrics = LineMetrics(line: name, factory: metrics)
        state = Mutex(State(queue: BusQueue(capacity: options.queueCapacity), up: first != nil))
        WorkerThread.detach(name: "bus \(name)") { [self] in run(first: first, open: open) }
    }

    /// The line's figures so far.
    public var counters: Counters { state.withLock { $0.counters } }
    /// What the line's RTU framer has seen: frames, noise bytes, CRC errors, echoes, timeouts.
    public var framerCounters: RTUFramer.Counters { state.withLock { $0.framer } }
    /// Every slave the line has talked to, and what it knows of each.
    public var slaves: [UInt8: SlaveHealth] { state.withLock { $0.health } }
    /// Whether the line's link is open; while it is not, requests are answered 0x0A.
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
        submit(pdu, to: slave, priority: priority, from: connection) { promise.succeed($0) }
        return promise.futureResult
    }

    /// Queues a request PDU for `slave`; `whenDone` gets the reply on the
    /// thread that has it (the line's), with no event loop between: for a
    /// caller that hands replies on by itself (the Modbus/TCP server's loop).
    public func submit(_ pdu: [UInt8], to slave: UInt8, priority: BusPriority, from connection: ModbusConnection? = nil,
                       whenDone: @escaping ReplyHandler) {
        var deliver = whenDone
        if observingWrites.load(ordering: .relaxed), let function = pdu.first, Self.writeFunctions.contains(function) {
            deliver = { [self] reply in
                whenDone(reply)
                guard reply?.first == function else { return }
                // Off the line's thread: an observer may write a file (the historian).
                MultiThreadedEventLoopGroup.singleton.any().execute { [self] in
                    for observer in writeObservers.withLock({ Array($0.values) }) { observer(slave, pdu) }
                }
            }
        }
        let pending = Pending(pdu: pdu, slave: slave, connection: connection, deliver: deliver)
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
        if let displaced { displaced.deliver(Self.exception(.serverBusy, to: displaced.pdu)) }
        if let refusal {
            deliver(Self.exception(refusal, to: pdu))
        } else {
            work.signal()
        }
    }

    /// Write Single Coil, Single Register, Multiple Coils, Multiple Registers, Mask Write, Read/Write Multiple.
    static let writeFunctions: Set<UInt8> = [0x05, 0x06, 0x0F, 0x10, 0x16, 0x17]

    /// Calls `observer` after each write a slave carries out; `stopObservingWrites` with the number returned ends it.
    public func observeWrites(_ observer: @escaping WriteObserver) -> Int {
        let number = nextObserver.add(1, ordering: .relaxed).newValue
        writeObservers.withLock { observers in
            observers[number] = observer
            observingWrites.store(true, ordering: .relaxed)
        }
        return number
    }

    /// Ends the observing that ``Bus/observeWrites(_:)`` started as `number`.
    public func stopObservingWrites(_ number: Int) {
        writeObservers.withLock { observers in
            observers[number] = nil
            observingWrites.store(!observers.isEmpty, ordering: .relaxed)
        }
    }

    /// `submit`, awaited: for callers outside an event loop (the poller).
    public func request(_ pdu: [UInt8], to slave: UInt8, priority: BusPriority) async -> [UInt8]? {
        await withCheckedContinuation { continuation in
            submit(pdu, to: slave, priority: priority) { continuation.resume(returning: $0) }
        }
    }

    /// Stops after the transaction in flight, which it waits for (without
    /// holding a thread); whatever waits in the queue is answered 0x0A.
    public func close() async {
        let waiting = state.withLock { state in
            state.running = false
            defer { metrics.queueDepth.record(state.queue.count) }
            return state.queue.drain()
        }
        for pending in waiting { pending.deliver(Self.exception(.gatewayPathUnavailable, to: pending.pdu)) }
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
    /// returned and let the link go: a line restarted by a reload opens the
    /// same adapter at once, and the old one must no longer hold it.
    private func run(first: LinkHandOver?, open: LinkOpener) {
        // t3.5 is timed by this thread's waits: they must not end 50 µs late.
        SerialPort.usePreciseTimers()
        serve(first: first, open: open)
        finish()
    }

    /// Only `link` holds the port or connection (taken from the hand-over
    /// here, not passed in: an argument would be kept alive by the caller).
    /// Each turn takes a request when the link has room for one, or waits for
    /// work, a reply or the earliest deadline of those in flight.
    private func serve(first: LinkHandOver?, open: LinkOpener) {
        var link = first?.take()
        var pause = options.reopenInterval
        while state.withLock({ $0.running }) {
            if let broken = link, let reason = state.withLock({ $0.broken }) {
                link = reconnect(broken, reason: reason, open)
                continue
            }
            guard let current = link ?? reopen(open) else {
                self.pause(until: .now + pause)
                pause = min(pause * 2, max(options.reopenInterval, options.reopenMaximum))
                continue
            }
            (link, pause) = (current, options.reopenInterval)
            let next = current.expire(at: .now)
            if current.inFlight < current.capacity, let pending = state.withLock({ $0.running ? $0.queue.pop() : nil }) {
                dispatch(pending, on: current)
            } else if let next {
                waitForWork(until: next)
            } else {
                work.wait()
            }
            account(current.counters, generation: state.withLock { $0.generation })
        }
        if let link { letFlightsLand(link) }
    }

    /// Waits until `deadline`, or until the line is closed. The semaphore
    /// counts every request and reply since it was last waited on, which the
    /// loop never needs (it takes from the queue before it waits): they are
    /// let go first, so that only a signal from now on ends the wait early.
    private func pause(until deadline: ContinuousClock.Instant) {
        while true {
            while work.wait(timeout: .now()) == .success {}
            let left = ContinuousClock.now.duration(to: deadline)
            guard state.withLock({ $0.running }), left > .zero else { return }
            waitForWork(until: deadline)
        }
    }

    /// A request, a reply or `close()` ends the wait; else `instant` does.
    private func waitForWork(until instant: ContinuousClock.Instant) {
        let left = max(.zero, ContinuousClock.now.duration(to: instant))
        _ = work.wait(timeout: .now() + .nanoseconds(Int(left.seconds * 1e9)))
    }

    /// On the way out: what is in flight is answered or times out, then the link closes.
    private func letFlightsLand(_ link: any LineLink) {
        while link.inFlight > 0, let next = link.expire(at: .now) { waitForWork(until: next) }
        link.close()
    }

    /// The link's frame counters, into the line's figures and metrics. They
    /// come from two threads (a reply's and the line's own), so a figure
    /// read late never takes one back; a link opened anew starts from 0, and
    /// the line's figures go on from those of the links before it.
    private func account(_ counters: RTUFramer.Counters, generation: Int) {
        let (old, new) = state.withLock { state -> (RTUFramer.Counters, RTUFramer.Counters) in
            let old = state.framer
            if generation > state.countedLink.generation {
                state.countedLink = (generation, state.framer, RTUFramer.Counters())
            }
            guard generation == state.countedLink.generation else { return (old, old) }
            state.countedLink.latest = state.countedLink.latest.atLeast(counters)
            state.framer = state.countedLink.base.adding(state.countedLink.latest)
            return (old, state.framer)
        }
        if old != new { metrics.framer(from: old, to: new) }
    }

    /// Opens the link with a break handler that knows which link it belongs to.
    private func openLink(_ open: LinkOpener) throws -> any LineLink {
        let generation = state.withLock { state in
            state.generation += 1
            return state.generation
        }
        let link = try open { [weak self] reason in self?.markBroken(reason, generation: generation) }
        state.withLock { $0.opened = .now }
        return link
    }

    /// The line's link opened again (or for the first time): the line is up.
    private func reopen(_ open: LinkOpener) -> (any LineLink)? {
        let link: any LineLink
        do {
            link = try openLink(open)
        } catch {
            state.withLock { $0.downReason = Self.downReason(error) }
            return nil
        }
        logger.notice("line \(name) is up on \(link.address)", metadata: ["line": "\(name)", "event": "line-up"])
        state.withLock { state in
            state.up = true
            state.health.removeAll()
        }
        return link
    }

    /// A link that broke is closed and opened again at once; the line stays
    /// up and its queue waits if that works, and is down (its queue answered
    /// 0x0A) if not.
    private func reconnect(_ broken: any LineLink, reason: String, _ open: LinkOpener) -> (any LineLink)? {
        let opened = state.withLock { state in
            state.broken = nil
            return state.opened
        }
        broken.close()
        // A remote that takes connections and drops them at once is not tried
        // more often than a missing one: at most once a reopen interval.
        pause(until: opened + options.reopenInterval)
        guard state.withLock({ $0.running }) else { return nil }
        do {
            let link = try openLink(open)
            logger.notice("line \(name): \(reason); connected again to \(link.address)", metadata: ["line": "\(name)"])
            return link
        } catch {
            markDown(reason + "; " + Self.downReason(error))
            return nil
        }
    }

    /// The link failed: the serve loop closes it and opens it again. Only
    /// the link of `generation` (0: the first) can break the line: a late
    /// word from one already replaced is not news.
    private func markBroken(_ reason: String, generation: Int) {
        let current = state.withLock { state in
            guard state.generation == generation else { return false }
            state.broken = state.broken ?? reason
            return true
        }
        if current { work.signal() }
    }

    private func markDown(_ reason: String) {
        logger.warning("line \(name) is down: \(reason)", metadata: ["line": "\(name)", "event": "line-down"])
        let waiting = state.withLock { state in
            state.up = false
            state.downReason = reason
            return state.queue.drain()
        }
        for other in waiting { other.deliver(Self.exception(.gatewayPathUnavailable, to: other.pdu)) }
    }

    /// Starts one transaction, as the slave's health allows; its reply (or
    /// the gateway's exception) goes to the request's handler when it ends.
    private func dispatch(_ pending: Pending, on link: any LineLink) {
        if let connection = pending.connection, !connection.isOpen {
            state.withLock { $0.counters.droppedGone += 1 }
            pending.deliver(nil)
            return
        }
        let transaction: LinkTransaction
        switch prepare(pending, broadcasts: link.broadcasts) {
        case .answer(let reply):
            return pending.deliver(reply)
        case .send(let prepared):
            transaction = prepared
        }
        let (started, share, loss) = (ContinuousClock.now, 1 / Double(link.capacity), link.lossException)
        let generation = state.withLock { $0.generation }
        link.start(transaction) { [self] outcome in
            account(outcome.counters, generation: generation)
            pending.deliver(conclude(pending, transaction, outcome, loss: loss, generation: generation))
            let utilisation = state.withLock { state in
                metrics.queueDepth.record(state.queue.count)
                return state.utilisation.add((ContinuousClock.now - started) * share, window: options.utilisationWindow)
            }
            if let utilisation { metrics.utilisation.record(utilisation) }
            work.signal()
        }
    }

    private enum Preparation {
        /// Answered without the line: a request the gateway cannot read, or a slave whose breaker is open.
        case answer([UInt8]?)
        case send(LinkTransaction)
    }

    private func prepare(_ pending: Pending, broadcasts: Bool) -> Preparation {
        var request: Request?
        do {
            request = try Request(pdu: pending.pdu[...])
        } catch {
            // A function we do not know goes to the line as it is; a known one we cannot read is the client's mistake.
            guard let function = pending.pdu.first, !FunctionCode.supported.contains(FunctionCode(function)) else {
                return .answer([error.function | 0x80, error.code.rawValue])
            }
        }
        if pending.slave == 0 {
            // Modbus/TCP has no broadcast: unit 0 there is a device like any other, not every slave at once.
            return broadcasts ? .send(LinkTransaction(pdu: pending.pdu, unit: 0, request: request, timeout: .zero)) : .answer(nil)
        }
        guard let timeout = request == nil ? admitPassThrough(pending.slave) : admit(pending.slave) else {
            return .answer(Self.exception(.gatewayTargetFailed, to: pending.pdu))
        }
        return .send(LinkTransaction(pdu: pending.pdu, unit: pending.slave, request: request, timeout: timeout))
    }

    /// What a transaction's outcome tells the client and the slave's health.
    private func conclude(_ pending: Pending, _ transaction: LinkTransaction, _ outcome: LinkOutcome, loss: ExceptionCode,
                          generation: Int) -> [UInt8]? {
        if transaction.unit == 0 && transaction.timeout == .zero {
            if case .failure(let error) = outcome.reply { logger.notice("broadcast on \(name) failed: \(error)") }
            return nil
        }
        switch outcome.reply {
        case .success(let reply):
            record(pending.slave, latency: outcome.latency, exception: reply.map { ($0.first ?? 0) & 0x80 != 0 } ?? false)
            return reply
        case .failure(let error) where error.code == .connection:
            markBroken(error.detail, generation: generation)
            return Self.exception(loss, to: pending.pdu)
        case .failure(let error):
            // Many slaves ignore functions they do not know: a client sending
            // such requests must not open the breaker for every other client.
            let evidence: Evidence = transaction.request == nil
                ? (error.code == .malformedReply ? .heard : .none)
                : (outcome.heard ? .heard : .timedOut)
            return failed(pending, health: evidence)
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

    /// A request of an unknown function neither probes the breaker nor
    /// closes it (only requests the gateway knows do): it goes only while the
    /// breaker is closed.
    private func admitPassThrough(_ slave: UInt8) -> Duration? {
        let health = state.withLock { $0.health[slave] }
        guard health?.breaker ?? .closed == .closed else {
            state.withLock { $0.counters.failedFast += 1 }
            metrics.failedFast.increment()
            return nil
        }
        return health?.timeout ?? options.health.maximumTimeout
    }

    private func record(_ slave: UInt8, latency: Duration, exception: Bool) {
        metrics.transactions.increment()
        metrics.latency(slave, max(.zero, latency))
        if exception { metrics.exceptions.increment() }
        state.withLock { state in
            state.counters.transactions += 1
            if exception { state.counters.exceptions += 1 }
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

    private func failed(_ pending: Pending, health evidence: Evidence) -> [UInt8] {
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

    static func exception(_ code: ExceptionCode, to pdu: [UInt8]) -> [UInt8] {
        [(pdu.first ?? 0) | 0x80, code.rawValue]
    }
}

/// Carries the first link from the caller to the line's thread, its only
/// user from then on. The thread's closure lives as long as the thread does,
/// so it must not keep the link: `take` leaves nothing behind, and the link
/// goes when the line ends.
private final class LinkHandOver: @unchecked Sendable {
    private var link: (any LineLink)?
    private let lock = NSLock()

    init(link: any LineLink) { self.link = link }

    func take() -> (any LineLink)? {
        lock.lock()
        defer { lock.unlock() }
        defer { link = nil }
        return link
    }
}

/// The first link is opened before its Bus exists: a break it reports
/// meanwhile is kept until the Bus connects.
private final class BreakRelay: Sendable {
    private let state = Mutex<(handler: (@Sendable (String) -> Void)?, early: String?)>((nil, nil))

    func relay(_ reason: String) {
        let handler = state.withLock { state in
            if state.handler == nil { state.early = reason }
            return state.handler
        }
        handler?(reason)
    }

    func connect(_ handler: @escaping @Sendable (String) -> Void) {
        let early = state.withLock { state in
            state.handler = handler
            return state.early
        }
        if let early { handler(early) }
    }
}

extension RTUFramer.Counters {
    /// Each figure the larger of the two.
    fileprivate func atLeast(_ other: Self) -> Self {
        Self(frames: max(frames, other.frames), noiseBytes: max(noiseBytes, other.noiseBytes), crcErrors: max(crcErrors, other.crcErrors),
             echoes: max(echoes, other.echoes), timeouts: max(timeouts, other.timeouts), strays: max(strays, other.strays))
    }

    fileprivate func adding(_ other: Self) -> Self {
        Self(frames: frames + other.frames, noiseBytes: noiseBytes + other.noiseBytes, crcErrors: crcErrors + other.crcErrors,
             echoes: echoes + other.echoes, timeouts: timeouts + other.timeouts, strays: strays + other.strays)
    }
}
