#if canImport(Glibc)
import Glibc
#endif
import CoreMetrics
import Discovery
import EtherNetIP
import Logging
import Modbus
import StreamServer
import NIOCore
import Prometheus
import Serial
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The running gateway: a Bus per configured line, a poller per polled
/// slave, the router, the Modbus/TCP listeners and the EtherNet/IP server,
/// each a `Part` (a `Service`) in one `ServiceGroup`. Its graceful shutdown
/// goes: nothing new starts and a reload under way finishes → the listeners
/// (Modbus/TCP and EtherNet/IP) stop accepting and reading → the web server
/// → pollers → lines (each finishes the transaction in flight) → the
/// connections close once their replies are sent. `reload` applies a new
/// configuration as a difference.
public final class GatewayService: Sendable {
    /// The outer group: run it, or shut it down with `stop()`.
    public let group: ServiceGroup
    /// Recent events (slaves offline/online, breakers, lines down/up, reloads).
    public let events: EventLog
    let kinds: Kinds
    let plant = Guarded(Plant())
    let logger: Logger
    let loops: any EventLoopGroup
    let metrics: any MetricsFactory
    let routes = RouteTable()
    let running = Latch<Result<Void, GatewayError>>()
    let reloads = ReloadQueue()
    /// Set when the graceful shutdown begins: nothing starts after it.
    let stopping = Latch<Void>()
    /// Parts added and not yet started: the shutdown tells them not to wait.
    let pending = Guarded<[ObjectIdentifier: Part]>([:])
    /// Set once the first configuration is applied (or failed to be): the
    /// lines and pollers exist from then on, for attachments that need them.
    public let applied = Latch<Void>()
    /// The MQTT publisher's state, for `status` (the publisher lives in the Sparkplug module, which sets this).
    public let mqttStatus = Guarded<(@Sendable () -> GatewayStatus.MQTT)?>(nil)

    /// The nested groups, one per kind of part, in the outer group's order.
    struct Kinds {
        let lines: ServiceGroup
        let pollers: ServiceGroup
        let listeners: ServiceGroup
    }

    private init(logger: Logger, loops: any EventLoopGroup, metrics: PrometheusCollectorRegistry?, signals: [UnixSignal],
                 attachments: Part) {
        let events = EventLog()
        self.events = events
        self.logger = Logger(label: logger.label) { _ in EventTap(base: logger.handler, events: events) }
        self.loops = loops
        self.metrics = metrics.map { PrometheusMetricsFactory(registry: $0) } ?? MetricsSystem.factory
        kinds = Kinds(lines: .parts("lines", logger: logger), pollers: .parts("pollers", logger: logger),
                      listeners: .parts("listeners", logger: logger))
        let closing = Part("connections", stop: { [plant] in
            let (servers, enip) = plant.withLock { ($0.listeners.values.map(\.server), $0.enip?.server) }
            for server in servers { try? await server.close() }
            try? await enip?.close()
        })
        let guarding = Part("shutdown guard", stop: { [stopping, pending, reloads] in
            // First to stop: no part starts from now on, and a reload under way finishes before any part stops.
            stopping.set(())
            for part in pending.withLock({ Array($0.values) }) { part.started.set(.failure(Self.isStopping)) }
            await reloads.idle()
        })
        pending.withLock { $0[ObjectIdentifier(attachments)] = attachments }
        let order: [any Service] = [closing, kinds.lines, kinds.pollers, attachments, kinds.listeners, guarding]
        group = ServiceGroup(configuration: ServiceGroupConfiguration(services: order, gracefulShutdownSignals: signals, logger: logger))
    }

    static let isStopping = GatewayError(reason: "the gateway is stopping")

    /// Starts every part the configuration names. A part that fails to start
    /// (a port already in use) stops those already started, and the error
    /// names the address and the reason. `attachments` (the web server) run
    /// between the pollers and the listeners: made from the service, they
    /// stop after the listeners stop accepting. With `signals`, the group
    /// shuts down gracefully when one comes (then `start` throws "the gateway
    /// is stopping"). With a `metrics` registry, the lines' metrics are kept in it.
    public static func start(_ configuration: Configuration, group: any EventLoopGroup, logger: Logger,
                             metrics: PrometheusCollectorRegistry? = nil, signals: [UnixSignal] = [],
                             attachments: @escaping @Sendable (GatewayService) -> [Part] = { _ in [] }) async throws -> GatewayService {
        let holder = Latch<GatewayService>()
        let attached = Part("attachments", body: { ready in
            let parts = attachments(await holder.wait())
            guard !parts.isEmpty else {
                ready()
                try? await gracefulShutdown()
                return
            }
            try await withThrowingDiscardingTaskGroup { tasks in
                for part in parts { tasks.addTask { try await part.run() } }
                for part in parts { try await part.ready() }
                ready()
            }
        })
        let service = GatewayService(logger: logger, loops: group, metrics: metrics, signals: signals, attachments: attached)
        holder.set(service)
        Task { [service] in
            do {
                try await service.group.run()
                service.running.set(.success(()))
            } catch {
                service.running.set(.failure(error as? GatewayError ?? GatewayError(reason: "\(error)")))
            }
        }
        do {
            do {
                _ = try await service.apply(configuration)
                service.applied.set(())
            } catch {
                service.applied.set(())
                throw error
            }
            try await attached.ready()
            service.pending.withLock { $0[ObjectIdentifier(attached)] = nil }
        } catch {
            await service.stop()
            throw error
        }
        return service
    }

    /// Shuts the gateway down gracefully and waits until every part stopped.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.wait()
    }

    /// Waits until the gateway stopped (after a signal or `stop()`); throws
    /// why when a part failed.
    public func wait() async throws(GatewayError) {
        try await running.wait().get()
    }

    /// A server started on `host:port`; its failure says which server, where, and why.
    public static func listening<T>(_ what: String, _ host: String, _ port: Int, _ start: () async throws -> T) async throws -> T {
        do {
            return try await start()
        } catch {
            throw GatewayError(reason: "\(what) cannot listen on \(host):\(port): \(SocketFailure.reason(of: error))")
        }
    }

    /// The listener's allow list as the server's test of a client; nil lets everyone in.
    static func allowing(_ allow: [AddressRange]) -> (@Sendable (SocketAddress?) -> Bool)? {
        guard !allow.isEmpty else { return nil }
        return { (address: SocketAddress?) -> Bool in
            guard let ip = address?.ipAddress else { return false }
            return allow.contains { $0.contains(ip) }
        }
    }

    /// The line's link, as its kind says; `onBreak` hears of a connection that fails by itself.
    static func open(_ line: Configuration.Line, onBreak: @escaping @Sendable (String) -> Void) throws -> any LineLink {
        if let remote = line.remote {
            if line.kind == .tcp {
                return try Bus.modbusTCP(host: remote.host, port: remote.port, connectTimeout: remote.connectTimeout,
                                         maxInFlight: remote.maxInFlight, onBreak: onBreak)
            }
            let port = try SerialPort(connectingTo: remote.host, port: remote.port, settings: line.settings, timeout: remote.connectTimeout)
            return Bus.rtu(port, line.options)
        }
        let port = try SerialPort(path: try resolve(line), settings: line.settings)
        if let rs485 = line.rs485 { _ = try port.setRS485(rs485) }
        if line.kind == .serialASCII { return Bus.ascii(port, line.options, characterTimeout: line.characterTimeout) }
        return Bus.rtu(port, line.options)
    }

    /// A device node written out is used as it is (a pty, a built-in UART);
    /// any other matcher is looked up among the adapters udev knows.
    static func resolve(_ line: Configuration.Line) throws -> String {
        if let remote = line.remote { return "\(remote.host):\(remote.port) (\(line.kind.rawValue))" }
        return try resolve(line.adapter, for: "line \(line.name)")
    }

    static func resolve(_ adapter: AdapterMatcher, for what: String) throws -> String {
        if case .node(let pattern) = adapter, !pattern.contains(where: { "*?[".contains($0) }) { return pattern }
        do {
            return try Discovery.resolve(adapter).node
        } catch {
            throw GatewayError(reason: "\(what): \(error)")
        }
    }
}

extension GatewayService {
    /// Each line's Bus, by name.
    public var buses: [String: Bus] { plant.withLock { $0.lines.mapValues(\.bus) } }
    /// Where each line's adapter was found at start-up (or that it is awaited).
    public var paths: [String: String] { plant.withLock { $0.lines.mapValues(\.path) } }
    /// Every polled slave's poller, one per slave however many polls and
    /// devices it serves.
    public var pollers: [Poller] { plant.withLock { $0.slaves.values.map(\.poller) } }
    /// The Modbus/TCP listeners, in the configuration's order.
    public var servers: [ModbusTCPServer] {
        plant.withLock { plant in plant.configuration.listeners.compactMap { plant.listeners[$0]?.server } }
    }
    /// The devices' registers as Logix tags, when configured.
    public var enipServer: ENIPServer? { plant.withLock { $0.enip?.server } }
    /// The configuration in force (the last one applied).
    public var configuration: Configuration { plant.withLock { $0.configuration } }
    /// The poller of a slave (every [[device]] slave has one).
    public func poller(line: String, slave: UInt8) -> Poller? {
        plant.withLock { $0.slaves[SlaveKey(line: line, slave: slave)]?.poller }
    }

    /// The slaves `[[device]]` tables name, by line.
    public var deviceSlaves: [String: Set<UInt8>] {
        plant.withLock { plant in
            plant.configuration.devices.reduce(into: [:]) { $0[$1.line, default: []].insert($1.slave) }
        }
    }
}

/// A failure of the gateway's own, in words for the operator: a part that
/// could not start, a device with no line.
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let reason: String
    /// The reason, as it is.
    public var description: String { reason }
    /// A failure for `reason`.
    public init(reason: String) { self.reason = reason }
}

/// A listener that only reads. An allow-list, not a deny-list: functions
/// that only read (1-4, 7, 8/0 echo, 11, 12, 17, 20, 24, 43/14 device
/// identification) pass; everything else, writes, diagnostics that restart
/// or silence a slave, file writes and functions nobody knows, is refused
/// with exception 1 and never reaches the line.
struct ReadOnlyServing: ModbusServing {
    let base: any ModbusServing

    static func onlyReads(_ pdu: [UInt8]) -> Bool {
        guard let function = pdu.first else { return false }
        switch function {
        case 1, 2, 3, 4, 7, 11, 12, 17, 20, 24: return true
        case 8: return pdu.count >= 3 && pdu[1] == 0 && pdu[2] == 0
        case 43: return pdu.count >= 2 && pdu[1] == 14
        default: return false
        }
    }

    func serve(unit: UInt8, pdu: [UInt8], from connection: ModbusConnection, on eventLoop: any EventLoop) -> Served {
        guard Self.onlyReads(pdu) else { return .now([(pdu.first ?? 0) | 0x80, ExceptionCode.illegalFunction.rawValue]) }
        return base.serve(unit: unit, pdu: pdu, from: connection, on: eventLoop)
    }
}

/// Why a server could not listen, in the system's words ("Address already in use").
public enum SocketFailure {
    /// The system's words for a socket error (strerror), or the error's own description.
    public static func reason(of error: any Error) -> String {
        if let socket = error as? ServerSocketError { return String(cString: strerror(socket.code)) }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(error)"
    }
}
