import CoreMetrics
import Foundation
import Logging
import Modbus
import NIOCore
import NIOPosix
import Synchronization

/// Polls addresses of one slave on a line in the background, as cpppo's
/// `poller` does: `poll` starts polling an address, `read` gives its last
/// value (nil while the device is offline or before its first poll), `write`
/// goes through the line at once (ahead of polls) and returns when the slave
/// has answered, `forget` stops polling. Reads are merged by `PollPlan`; each
/// cycle's time spent reading feeds the load averages. A cycle that takes
/// longer than the period is a slip.
///
/// The cycles run on an event loop, with timers and futures: no thread of the
/// concurrency pool is held, so polling keeps its rate whatever else the
/// process awaits.
public final class Poller: Sendable {
    /// The line the slave is on.
    public let bus: Bus
    /// The slave polled.
    public let slave: UInt8
    /// How far from a read's first address another may be and still join it
    /// (see ``PollPlan``).
    public let reach: Int
    private let state: Mutex<State>
    private let loop: any EventLoop
    /// The load averages as gauges (dimensions line, slave, minutes).
    private let loadGauges: [Gauge]

    private struct State {
        var period: Duration
        var addresses: Set<ModbusAddress> = []
        /// Each polled value, and when it was read.
        var values: [ModbusAddress: (value: UInt16, at: ContinuousClock.Instant)] = [:]
        var online = false
        var load = LoadAverage()
        var slips = 0
        var cycles = 0
        var started = false
        var stopped = false
        var next: Scheduled<Void>?
        /// The bus was made for this poller alone (`init(host:port:…)`).
        var ownsBus = false
        var observers: [Int: CycleObserver] = [:]
        var observerCount = 0
    }

    /// Told at the end of every cycle, on the poller's event loop, whether
    /// the slave answered and when (the wall clock, for timestamps).
    public typealias CycleObserver = @Sendable (_ online: Bool, _ at: Date) -> Void

    /// A poller of `slave` on `bus`, polling nothing until `poll` is called; its
    /// cycles run on `loop`.
    public init(bus: Bus, slave: UInt8, period: Duration = .seconds(1), reach: Int = 100,
                on loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any(), metrics: any MetricsFactory = MetricsSystem.factory) {
        self.bus = bus
        self.slave = slave
        self.reach = reach
        self.loop = loop
        loadGauges = ["1", "5", "15"].map { minutes in
            Gauge(label: "fieldgw_slave_poll_load", dimensions: [("line", bus.name), ("slave", "\(slave)"), ("minutes", minutes)], factory: metrics)
        }
        state = Mutex(State(period: period))
    }

    /// cpppo's `poller_modbus(host, port, rate)`: a poller of the Modbus/TCP
    /// device at `host:port` (unit `unit`), on a line of its own that
    /// connects by itself and again when the connection fails. Values are nil
    /// until polled and while the device is offline; `close()` ends it all.
    public convenience init(host: String, port: Int = 502, unit: UInt8 = 1, period: Duration = .seconds(1),
                            timeout: Duration = .seconds(1), logger: Logger = Logger(label: "fieldgw.poller")) {
        var options = Bus.Options()
        options.health.maximumTimeout = timeout
        options.health.minimumTimeout = min(options.health.minimumTimeout, timeout)
        options.reopenMaximum = .seconds(10)
        let bus = Bus(name: "\(host):\(port)", link: { onBreak in
            try Bus.modbusTCP(host: host, port: port, connectTimeout: timeout, maxInFlight: 1, onBreak: onBreak)
        }, options: options, logger: logger)
        self.init(bus: bus, slave: unit, period: period)
        state.withLock { $0.ownsBus = true }
    }

    /// Stops polling and, for a poller made with `init(host:port:…)`, closes its connection.
    public func close() async {
        stop()
        if state.withLock({ $0.ownsBus }) { await bus.close() }
    }

    /// Polls `address` from now on; a `period` shorter than the current one
    /// makes every poll of this device that much faster (never slower).
    public func poll(_ address: ModbusAddress, period: Duration? = nil) {
        poll([address], period: period)
    }

    /// Polls all of `addresses` from now on: the first cycle reads them all.
    /// (Added one by one, an address may miss a cycle that is already on its way.)
    public func poll(_ addresses: some Sequence<ModbusAddress>, period: Duration? = nil) {
        state.withLock { state in
            state.addresses.formUnion(addresses)
            if let period, period < state.period { state.period = period }
        }
        let first = state.withLock { state in
            defer { state.started = true }
            return !state.started && !state.stopped
        }
        if first { loop.execute { self.cycle(due: .now) } }
    }

    /// Stops polling `address` and drops its value.
    public func forget(_ address: ModbusAddress) {
        state.withLock { state in
            state.addresses.remove(address)
            state.values[address] = nil
        }
    }

    /// The last polled value; nil while offline or not yet polled.
    public func read(_ address: ModbusAddress) -> UInt16? {
        state.withLock { $0.online ? $0.values[address]?.value : nil }
    }

    /// `count` values from `offset` of `table`, if every one was polled less
    /// than `maxAge` ago (the gateway's agent mode answers a read from them).
    public func cached(_ table: Table, offset: UInt16, count: Int, maxAge: Duration) -> [UInt16]? {
        let oldest = ContinuousClock.now - maxAge
        return state.withLock { state -> [UInt16]? in
            guard state.online else { return nil }
            var values: [UInt16] = []
            for index in 0..<count {
                guard let entry = state.values[ModbusAddress(table: table, offset: offset &+ UInt16(index))], entry.at >= oldest else { return nil }
                values.append(entry.value)
            }
            return values
        }
    }

    /// The values of `addresses` as last polled, and the age of the oldest;
    /// nil until each was read once. Stale values too: the web API shows
    /// them with their age.
    public func sample(_ addresses: [ModbusAddress]) -> (values: [UInt16], age: Duration)? {
        let now = ContinuousClock.now
        return state.withLock { state -> (values: [UInt16], age: Duration)? in
            var values: [UInt16] = []
            var oldest = now
            for address in addresses {
                guard let entry = state.values[address] else { return nil }
                values.append(entry.value)
                oldest = min(oldest, entry.at)
            }
            return (values, now - oldest)
        }
    }

    /// The values of `addresses`, all read from the cache at one moment (a
    /// consistent snapshot), if each was polled less than `maxAge` ago.
    public func cached(_ addresses: [ModbusAddress], maxAge: Duration) -> [UInt16]? {
        let oldest = ContinuousClock.now - maxAge
        return state.withLock { state -> [UInt16]? in
            guard state.online else { return nil }
            var values: [UInt16] = []
            for address in addresses {
                guard let entry = state.values[address], entry.at >= oldest else { return nil }
                values.append(entry.value)
            }
            return values
        }
    }

    /// Writes consecutive holding registers from `address` in one request
    /// (FC16; one value goes as FC6, a coil as FC5) and updates the cache.
    public func write(_ address: ModbusAddress, values: [UInt16]) async throws(ModbusError) {
        do {
            try await write(address, values: values, on: loop).get()
        } catch let error as ModbusError {
            throw error
        } catch {
            throw ModbusError(.connection, "\(error)")
        }
    }

    /// `write(_:values:)` on an event loop, with no thread of the concurrency
    /// pool held (the gateway's tag writes): the future fails with the
    /// slave's exception, or 0x0A/0x0B from the gateway, as a `ModbusError`.
    public func write(_ address: ModbusAddress, values: [UInt16], on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let request: Request
        switch (address.table, values.count) {
        case (.coils, 1): request = .writeSingleCoil(address: address.offset, value: values[0] != 0)
        case (.holdingRegisters, 1): request = .writeSingleRegister(address: address.offset, value: values[0])
        case (.holdingRegisters, 2...): request = .writeMultipleRegisters(address: address.offset, values: values)
        default: return eventLoop.makeFailedFuture(ModbusError(.invalidRequest, "\(address) cannot take \(values.count) values"))
        }
        return bus.submit(request.pdu, to: slave, priority: .write, on: eventLoop).flatMapThrowing { reply in
            let response = try Response(pdu: (reply ?? [])[...], for: request)
            if case .exception(let exception) = response { throw ModbusError.from(exception) }
            self.state.withLock { state in
                for (index, value) in values.enumerated() {
                    state.values[ModbusAddress(table: address.table, offset: address.offset &+ UInt16(index))] = (value, .now)
                }
            }
        }
    }

    /// Writes one register or coil now; throws the slave's exception, or 0x0A/0x0B from the gateway.
    public func write(_ address: ModbusAddress, value: UInt16) async throws(ModbusError) {
        guard [.coils, .holdingRegisters].contains(address.table) else { throw ModbusError(.invalidRequest, "\(address) is read-only") }
        try await write(address, values: [value])
    }

    /// Calls `observer` after every cycle from now on, until `stopObserving` with the number returned.
    public func observeCycles(_ observer: @escaping CycleObserver) -> Int {
        state.withLock { state in
            state.observerCount += 1
            state.observers[state.observerCount] = observer
            return state.observerCount
        }
    }

    /// Ends the observing that ``Poller/observeCycles(_:)`` started as `number`.
    public func stopObserving(_ number: Int) {
        _ = state.withLock { $0.observers.removeValue(forKey: number) }
    }

    /// Whether the slave answered every read of the last cycle (false before the
    /// first, and with nothing to poll).
    public var online: Bool { state.withLock { $0.online } }
    /// The addresses polled, in order.
    public var addresses: [ModbusAddress] {
        state.withLock { $0.addresses.sorted { Int($0.description)! < Int($1.description)! } }  // 1…, 100001…, 300001…, 400001…
    }
    /// The fraction of the period spent reading, averaged as cpppo does.
    public var load: LoadAverage { state.withLock { $0.load } }
    /// Cycles that took longer than the period.
    public var slips: Int { state.withLock { $0.slips } }
    /// Cycles completed.
    public var cycles: Int { state.withLock { $0.cycles } }
    /// The time between cycles: the one given at the start, or the shortest a
    /// `poll` asked for since.
    public var period: Duration { state.withLock { $0.period } }

    /// Stops polling after the cycle under way; the line is left as it is.
    public func stop() {
        state.withLock { state in
            state.stopped = true
            state.next?.cancel()
        }
    }

    /// One cycle, due at `due`; then the next is scheduled a period after it
    /// (or at once, when this one overran: a slip).
    private func cycle(due: ContinuousClock.Instant) {
        let (addresses, period) = state.withLock { ($0.addresses, $0.period) }
        let started = ContinuousClock.now
        let reads = PollPlan(addresses: addresses, reach: reach).reads
        poll(reads[...], busy: .zero, answered: true).whenSuccess { busy in
            let ended = ContinuousClock.now
            let next = max(due + period, ended)
            let load = self.state.withLock { state in
                state.load.record(busy: busy, period: period)
                return state.load
            }
            for (gauge, value) in zip(self.loadGauges, [load.one, load.five, load.fifteen]) { gauge.record(value) }
            self.state.withLock { state in
                state.cycles += 1
                if ended > started + period { state.slips += 1 }
                state.online = !reads.isEmpty && state.online
                guard !state.stopped else { return }
                state.next = self.loop.scheduleTask(in: (next - ended).timeAmount) { self.cycle(due: next) }
            }
        }
    }

    /// The reads one after another; the time they took.
    private func poll(_ reads: ArraySlice<PollPlan.Read>, busy: Duration, answered: Bool) -> EventLoopFuture<Duration> {
        guard let read = reads.first else {
            let was = state.withLock { state in
                defer { state.online = answered }
                if !answered { state.values.removeAll() }
                return state.cycles == 0 ? nil : state.online
            }
            if let was, was != answered { announce(online: answered) }
            let now = Date()
            for observer in state.withLock({ Array($0.observers.values) }) { observer(answered, now) }
            return loop.makeSucceededFuture(busy)
        }
        let start = ContinuousClock.now
        return bus.submit(read.request.pdu, to: slave, priority: .poll, on: loop).flatMap { reply in
            let values = Self.values(reply, for: read)
            if let values { self.store(values, of: read) } else { self.clear(read) }
            let heard = values != nil || Self.slaveException(reply)
            return self.poll(reads.dropFirst(), busy: busy + (ContinuousClock.now - start), answered: answered && heard)
        }
    }

    /// A slave going offline or coming back is an event in the log.
    private func announce(online: Bool) {
        let metadata: Logger.Metadata = ["line": "\(bus.name)", "slave": "\(slave)", "event": online ? "slave-online" : "slave-offline"]
        if online {
            bus.logger.notice("slave \(slave) on line \(bus.name) is online, answering its polls again", metadata: metadata)
        } else {
            bus.logger.notice("slave \(slave) on line \(bus.name) is offline: it did not answer its poll", metadata: metadata)
        }
    }

    /// An exception the slave itself gave (an address it does not have): it
    /// is online, and only that read's values are gone. 0x0A and 0x0B are the
    /// gateway's: no answer. (Devices and [[poll]]s of one slave share a
    /// poller, so one bad address must not take the others' values.)
    private static func slaveException(_ reply: [UInt8]?) -> Bool {
        guard let reply, reply.count == 2, reply[0] & 0x80 != 0 else { return false }
        return ![ExceptionCode.gatewayPathUnavailable.rawValue, ExceptionCode.gatewayTargetFailed.rawValue].contains(reply[1])
    }

    /// A read that brought no values: what it covers is not known now.
    private func clear(_ read: PollPlan.Read) {
        state.withLock { state in
            for index in 0..<read.count {
                state.values[ModbusAddress(table: read.table, offset: read.offset &+ UInt16(index))] = nil
            }
        }
    }

    private func store(_ values: [UInt16], of read: PollPlan.Read) {
        let now = ContinuousClock.now
        state.withLock { state in
            for (index, value) in values.enumerated() {
                let address = ModbusAddress(table: read.table, offset: read.offset &+ UInt16(index))
                if state.addresses.contains(address) { state.values[address] = (value, now) }
            }
        }
    }

    /// The values a reply carries, or nil for an exception or no answer.
    private static func values(_ reply: [UInt8]?, for read: PollPlan.Read) -> [UInt16]? {
        guard let reply, let response = try? Response(pdu: reply[...], for: read.request) else { return nil }
        switch response {
        case .registers(let values): return values
        case .bits(let bits): return bits.prefix(read.count).map { $0 ? 1 : 0 }
        default: return nil
        }
    }
}
