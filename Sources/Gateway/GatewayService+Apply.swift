import EtherNetIP
import Logging
import Modbus
import NIOCore
import ServiceLifecycle
import Synchronization

/// The parts running now, and the configuration they came from.
struct Plant {
    struct Line {
        let configuration: Configuration.Line
        let bus: Bus
        let path: String
        let part: Part
    }

    /// One poller per slave, shared by every [[poll]] and [[device]] that names it.
    struct Slave {
        let signature: SlaveSignature
        let poller: Poller
        let agentAge: Duration?
        let part: Part
    }

    struct Listener {
        let server: ModbusTCPServer
        let part: Part
    }

    struct ENIP {
        let configuration: Configuration.ENIP
        let devices: [Configuration.Device]
        let assemblies: [Configuration.IOAssembly]
        let pollers: [ObjectIdentifier]
        let server: ENIPServer
        let part: Part
    }

    var configuration = Configuration()
    var lines: [String: Line] = [:]
    var slaves: [SlaveKey: Slave] = [:]
    var listeners: [Configuration.Listener: Listener] = [:]
    var serialSlaves: [Configuration.SerialSlave: (face: SerialSlaveFace, part: Part)] = [:]
    var enip: ENIP?
}

struct SlaveKey: Hashable {
    let line: String
    let slave: UInt8
}

/// What a slave's poller is made from: if any of it changes, the poller is made anew.
struct SlaveSignature: Hashable {
    let line: Configuration.Line
    let polls: [Configuration.Poll]
    let devices: [Configuration.Device]

    static func all(_ configuration: Configuration) -> [SlaveKey: SlaveSignature] {
        let lines = Dictionary(configuration.lines.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var polls: [SlaveKey: [Configuration.Poll]] = [:]
        var devices: [SlaveKey: [Configuration.Device]] = [:]
        for poll in configuration.polls + configuration.assemblyPolls { polls[SlaveKey(line: poll.line, slave: poll.slave), default: []].append(poll) }
        for device in configuration.devices { devices[SlaveKey(line: device.line, slave: device.slave), default: []].append(device) }
        return Dictionary(uniqueKeysWithValues: Set(polls.keys).union(devices.keys).compactMap { key in
            lines[key.line].map { (key, SlaveSignature(line: $0, polls: polls[key] ?? [], devices: devices[key] ?? [])) }
        })
    }

    /// The fastest period any of them asks for.
    var period: Duration { (polls.map(\.period) + devices.map(\.period)).min() ?? .seconds(1) }
    var reach: Int { polls.map(\.reach).max() ?? 100 }
    var agentAge: Duration? { polls.compactMap(\.agentAge).max() }
}

/// What a reload changed, part by part, for the log and for `fieldgw reload`.
public struct ReloadReport: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Parts the reload left running as they were.
    public var kept: [String] = []
    /// Parts stopped and started again with new settings.
    public var restarted: [String] = []
    /// Parts the new file no longer asks for.
    public var stopped: [String] = []
    /// Parts the new file asks for that were not running.
    public var started: [String] = []
    /// Parts the new file asks for that could not start (a port in use), and why.
    public var failed: [String] = []

    /// Each kind that has parts, with their names: "kept: line a; started: poller a/3".
    public var description: String {
        let kinds = [("kept", kept), ("restarted", restarted), ("stopped", stopped), ("started", started), ("failed", failed)]
        return kinds.filter { !$0.1.isEmpty }.map { "\($0.0): \($0.1.joined(separator: ", "))" }.joined(separator: "; ")
    }
}

/// The Modbus/TCP listeners' view of the routes, swapped whole by a reload
/// so that a request sees either the old table or the new one.
final class RouteTable: ModbusServing, Sendable {
    private let router = Mutex(Router(routes: [:]))

    func replace(with routes: [UInt8: Router.Route]) { router.withLock { $0 = Router(routes: routes) } }

    func serve(unit: UInt8, pdu: [UInt8], from connection: ModbusConnection, on eventLoop: any EventLoop) -> Served {
        router.withLock { $0 }.serve(unit: unit, pdu: pdu, from: connection, on: eventLoop)
    }
}

/// Reloads one at a time, in the order asked.
final class ReloadQueue: Sendable {
    private let last = Mutex<Task<Void, Never>?>(nil)

    /// Returns once the reloads asked so far are done.
    func idle() async {
        await last.withLock { $0 }?.value
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
        let result = Latch<T>()
        let task = last.withLock { last -> Task<Void, Never> in
            let previous = last
            let task = Task {
                await previous?.value
                result.set(await body())
            }
            last = task
            return task
        }
        await task.value
        return await result.wait()
    }
}

extension GatewayService {
    /// Applies `configuration` to what runs now, as a difference: unchanged
    /// lines, pollers, listeners and EtherNet/IP server keep running; changed
    /// ones stop (a line after its transaction in flight) and start anew;
    /// removed ones stop; new ones start. The routes are swapped whole. A
    /// part that cannot start is named in the report; at start-up it is an
    /// error, and nothing else starts.
    @discardableResult
    public func reload(_ configuration: Configuration) async -> ReloadReport {
        let report = await reloads.run { [self] in
            guard stopping.value == nil else { return ReloadReport(failed: [Self.isStopping.reason]) }
            do {
                return try await apply(configuration, failing: false)
            } catch {
                return ReloadReport(failed: ["\(error)"])
            }
        }
        logger.notice("reload: \(report.description.isEmpty ? "nothing changed" : report.description)", metadata: ["event": "reload"])
        return report
    }

    /// Reads and checks `file`, and applies it; a bad file changes nothing,
    /// and the log says why (file, key, reason).
    public func reload(file: String) async throws(ConfigurationError) -> ReloadReport {
        let configuration: Configuration
        do {
            configuration = try Configuration(file: file)
        } catch {
            logger.error("reload refused, nothing changed: \(error)", metadata: ["event": "reload-refused"])
            throw error
        }
        return await reload(configuration)
    }

    func apply(_ configuration: Configuration, failing: Bool = true) async throws -> ReloadReport {
        var report = ReloadReport()
        let old = plant.withLock { $0 }
        let signatures = SlaveSignature.all(configuration)
        try await applyListenersRemoved(configuration, old: old, report: &report)
        await stopSlaves(old: old, signatures: signatures, report: &report)
        try await applyLines(configuration, old: old, report: &report)
        try await startSlaves(signatures, report: &report)
        routes.replace(with: routeTable(configuration))
        try await startListeners(configuration, failing: failing, report: &report)
        try await startSerialSlaves(configuration, report: &report)
        try await applyENIP(configuration, failing: failing, report: &report)
        plant.withLock { $0.configuration = configuration }
        return report
    }

    private func applyListenersRemoved(_ configuration: Configuration, old: Plant, report: inout ReloadReport) async throws {
        let wanted = Set(configuration.listeners)
        for (listener, running) in old.listeners where !wanted.contains(listener) {
            running.part.retire()
            try? await running.server.close()
            _ = plant.withLock { $0.listeners.removeValue(forKey: listener) }
            report.stopped.append("Modbus/TCP \(listener.host):\(listener.port)")
        }
        let slaves = Set(configuration.serialSlaves)
        for (slave, running) in old.serialSlaves where !slaves.contains(slave) {
            running.part.retire()
            await running.face.stop()
            _ = plant.withLock { $0.serialSlaves.removeValue(forKey: slave) }
            report.stopped.append("serial slave \(slave.adapter)")
        }
    }

    private func stopSlaves(old: Plant, signatures: [SlaveKey: SlaveSignature], report: inout ReloadReport) async {
        for (key, running) in old.slaves where signatures[key] != running.signature {
            running.part.retire()
            running.poller.stop()
            _ = plant.withLock { $0.slaves.removeValue(forKey: key) }
            if signatures[key] == nil { report.stopped.append("poller \(key.line)/\(key.slave)") }
        }
    }

    private func applyLines(_ configuration: Configuration, old: Plant, report: inout ReloadReport) async throws(GatewayError) {
        let wanted = Dictionary(configuration.lines.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (name, running) in old.lines where wanted[name] != running.configuration {
            running.part.retire()
            await running.bus.close()
            _ = plant.withLock { $0.lines.removeValue(forKey: name) }
            if wanted[name] == nil { report.stopped.append("line \(name)") }
        }
        for line in configuration.lines {
            if old.lines[line.name]?.configuration == line {
                report.kept.append("line \(line.name)")
                continue
            }
            if old.lines[line.name] == nil {
                report.started.append("line \(line.name)")
            } else {
                report.restarted.append("line \(line.name)")
            }
            try await startLine(line)
        }
    }

    /// Adds `part` to `group` and waits until it started; throws why not,
    /// or that the gateway is stopping (its group would never run it).
    func launch(_ part: Part, in group: ServiceGroup) async throws(GatewayError) {
        pending.withLock { $0[ObjectIdentifier(part)] = part }
        defer { pending.withLock { $0[ObjectIdentifier(part)] = nil } }
        guard stopping.value == nil else { throw Self.isStopping }
        await group.addServiceUnlessShutdown(ServiceGroup.member(part))
        try await part.ready()
    }

    private func startLine(_ line: Configuration.Line) async throws(GatewayError) {
        // Looked up at every opening: a re-plugged USB adapter may come back as another node.
        let bus = Bus(name: line.name, link: { try GatewayService.open(line, onBreak: $0) }, options: line.options, logger: logger, metrics: metrics)
        let path = (try? GatewayService.resolve(line)) ?? "(waiting for \(line.adapter))"
        let part = Part("line \(line.name)", stop: { await bus.close() })
        plant.withLock { $0.lines[line.name] = Plant.Line(configuration: line, bus: bus, path: path, part: part) }
        do {
            try await launch(part, in: kinds.lines)
        } catch {
            await bus.close()
            throw error
        }
    }

    private func startSlaves(_ signatures: [SlaveKey: SlaveSignature], report: inout ReloadReport) async throws(GatewayError) {
        let (running, buses) = plant.withLock { ($0.slaves, $0.lines.mapValues(\.bus)) }
        for (key, signature) in signatures.sorted(by: { ($0.key.line, $0.key.slave) < ($1.key.line, $1.key.slave) }) {
            guard running[key] == nil, let bus = buses[key.line] else { continue }
            let poller = Poller(bus: bus, slave: key.slave, period: signature.period, reach: signature.reach, metrics: metrics)
            for poll in signature.polls { poller.poll(poll.addresses, period: poll.period) }
            let part = Part("poller \(key.line)/\(key.slave)", stop: { poller.stop() })
            plant.withLock { $0.slaves[key] = Plant.Slave(signature: signature, poller: poller, agentAge: signature.agentAge, part: part) }
            do {
                try await launch(part, in: kinds.pollers)
            } catch {
                poller.stop()
                throw error
            }
            report.started.append("poller \(key.line)/\(key.slave)")
        }
    }

    private func routeTable(_ configuration: Configuration) -> [UInt8: Router.Route] {
        let (buses, slaves) = plant.withLock { ($0.lines.mapValues(\.bus), $0.slaves) }
        var table: [UInt8: Router.Route] = [:]
        for route in configuration.routes {
            guard let bus = buses[route.line] else { continue }
            for (unit, plain) in Router.range(route.units, offset: route.offset, to: bus) {
                let polled = slaves[SlaveKey(line: route.line, slave: plain.slave)]
                table[unit] = Router.Route(bus: plain.bus, slave: plain.slave, poller: polled?.poller, agentAge: polled?.agentAge)
            }
        }
        return table
    }

    private func startListeners(_ configuration: Configuration, failing: Bool, report: inout ReloadReport) async throws {
        let running = plant.withLock { $0.listeners }
        for listener in configuration.listeners where running[listener] == nil {
            do {
                try await startListener(listener)
                report.started.append("Modbus/TCP \(listener.host):\(listener.port)")
            } catch {
                if failing { throw error }
                report.failed.append("\(error)")
            }
        }
        report.kept += configuration.listeners.filter { running[$0] != nil }.map { "Modbus/TCP \($0.host):\($0.port)" }
    }

    /// Each serial slave face answers through the route table, as the listeners do.
    private func startSerialSlaves(_ configuration: Configuration, report: inout ReloadReport) async throws {
        let running = plant.withLock { $0.serialSlaves }
        for slave in configuration.serialSlaves {
            guard running[slave] == nil else {
                report.kept.append("serial slave \(slave.adapter)")
                continue
            }
            let face = SerialSlaveFace(slave, serving: routes, loop: loops.next(), logger: logger)
            let part = Part("serial slave \(slave.adapter)", stop: { await face.stop() })
            plant.withLock { $0.serialSlaves[slave] = (face, part) }
            do {
                try await launch(part, in: kinds.listeners)
            } catch {
                await face.stop()
                throw error
            }
            report.started.append("serial slave \(slave.adapter)")
        }
    }

    private func startListener(_ listener: Configuration.Listener) async throws {
        let serving: any ModbusServing = listener.readOnly ? ReadOnlyServing(base: routes) : routes
        let server = try await Self.listening("Modbus/TCP", listener.host, listener.port) {
            try await ModbusTCPServer.start(host: listener.host, port: listener.port, serving: serving, group: loops,
                                            connectionLimit: listener.connectionLimit, timeouts: listener.timeouts,
                                            accepts: Self.allowing(listener.allow),
                                            metrics: ListenerMetrics(listener: "\(listener.host):\(listener.port)", factory: metrics), logger: logger)
        }
        let part = Part("Modbus/TCP \(listener.host):\(listener.port)", stop: { server.drain() })
        plant.withLock { $0.listeners[listener] = Plant.Listener(server: server, part: part) }
        do {
            try await launch(part, in: kinds.listeners)
        } catch {
            try? await server.close()
            throw error
        }
    }
}

extension GatewayService {
    /// The EtherNet/IP server starts anew when [enip], the devices, or a
    /// poller behind a device changed; otherwise it keeps its connections.
    private func applyENIP(_ configuration: Configuration, failing: Bool, report: inout ReloadReport) async throws {
        let (old, slaves, buses) = plant.withLock { ($0.enip, $0.slaves, $0.lines.mapValues(\.bus)) }
        let identities = Self.enipSlaves(configuration.devices, configuration.assemblies).compactMap { slaves[$0]?.poller }.map(ObjectIdentifier.init)
        if let old, old.configuration == configuration.enip, old.devices == configuration.devices, old.assemblies == configuration.assemblies,
           old.pollers == identities {
            report.kept.append("EtherNet/IP \(old.configuration.host):\(old.configuration.port)")
            return
        }
        if let old {
            old.part.retire()
            try? await old.server.close()
            plant.withLock { $0.enip = nil }
            if configuration.enip == nil { report.stopped.append("EtherNet/IP \(old.configuration.host):\(old.configuration.port)") }
        }
        guard let enip = configuration.enip else { return }
        let name = "EtherNet/IP \(enip.host):\(enip.port)"
        do {
            try await startENIP(enip, devices: configuration.devices, assemblies: configuration.assemblies, slaves: slaves, buses: buses)
            if old == nil {
                report.started.append(name)
            } else {
                report.restarted.append(name)
            }
        } catch {
            if failing { throw error }
            report.failed.append("\(error)")
        }
    }

    /// The slaves whose pollers the EtherNet/IP server reads and writes through.
    private static func enipSlaves(_ devices: [Configuration.Device], _ assemblies: [Configuration.IOAssembly]) -> [SlaveKey] {
        devices.map { SlaveKey(line: $0.line, slave: $0.slave) } + assemblies.flatMap { $0.members.map(\.slaveKey) }
    }

    private func startENIP(_ enip: Configuration.ENIP, devices: [Configuration.Device], assemblies: [Configuration.IOAssembly],
                           slaves: [SlaveKey: Plant.Slave], buses: [String: Bus]) async throws {
        var sharing: [String: [UInt8: Poller]] = [:]
        for (key, slave) in slaves { sharing[key.line, default: [:]][key.slave] = slave.poller }
        let (tags, _) = try DeviceTags.table(for: devices, on: buses, sharing: sharing)
        let io = try startIO(enip, assemblies: assemblies, pollers: sharing)
        let router = MessageRouter(tags: tags, identity: enip.identity, connections: ConnectionManager(limit: enip.connectionLimit), io: io,
                                   metrics: ServerMetrics(server: "\(enip.host):\(enip.port)", factory: metrics))
        let server: ENIPServer
        do {
            server = try await Self.listening("EtherNet/IP", enip.host, enip.port) {
                try await ENIPServer.start(host: enip.host, port: enip.port, router: router, group: loops, limits: enip.limits,
                                           accepts: Self.allowing(enip.allow), logger: logger)
            }
        } catch {
            io?.stop()
            throw error
        }
        // At the shutdown it stops accepting with the other listeners; it closes last, with the connections.
        let part = Part("EtherNet/IP \(enip.host):\(enip.port)", stop: { server.drain() })
        let pollers = Self.enipSlaves(devices, assemblies).compactMap { sharing[$0.line]?[$0.slave] }.map(ObjectIdentifier.init)
        plant.withLock {
            $0.enip = Plant.ENIP(configuration: enip, devices: devices, assemblies: assemblies, pollers: pollers, server: server, part: part)
        }
        do {
            try await launch(part, in: kinds.listeners)
        } catch {
            try? await server.close()
            throw error
        }
    }

    /// The assemblies' I/O socket ([enip.io], or the server's host at port 2222); nil without assemblies.
    private func startIO(_ enip: Configuration.ENIP, assemblies: [Configuration.IOAssembly],
                         pollers: [String: [UInt8: Poller]]) throws -> IOExchange? {
        guard !assemblies.isEmpty else { return nil }
        let io = enip.ioSocket
        let set = AssemblySet(AssemblyBinding.assemblies(assemblies, pollers: pollers, loop: loops.next(), logger: logger))
        do {
            let exchange = try IOExchange(assemblies: set, host: io.host, port: io.port, destinationPort: io.destinationPort,
                                          multicastTTL: io.multicastTTL, spin: .microseconds(io.spinMicroseconds),
                                          metrics: IOMetrics(server: "\(enip.host):\(enip.port)", factory: metrics), logger: logger)
            logger.notice("EtherNet/IP I/O on \(io.host):\(exchange.port) (UDP): \(assemblies.count) assemblies, inputs to port \(io.destinationPort)")
            return exchange
        } catch {
            throw GatewayError(reason: "EtherNet/IP I/O \(io.host):\(io.port): \(error)")
        }
    }
}
