#if canImport(Glibc)
import Glibc
#endif
import CoreMetrics
import Discovery
import EtherNetIP
import Logging
import Modbus
import NIOCore
import Prometheus
import Serial
import Synchronization

/// The running gateway: a Bus per configured line, the router, and the
/// Modbus/TCP listeners. `stop()` closes the listeners, then lets each line
/// finish the transaction in flight.
public final class GatewayService: Sendable {
    public let buses: [String: Bus]
    public let servers: [ModbusTCPServer]
    /// The devices' registers as Logix tags, when configured.
    public let enipServer: ENIPServer?
    public let pollers: [Poller]
    /// The status endpoint, unless turned off or its port was taken.
    public let statusServer: StatusServer?
    /// Where each line's adapter was found at start-up (or that it is awaited).
    public let paths: [String: String]

    private init(buses: [String: Bus], servers: [ModbusTCPServer], enipServer: ENIPServer?, paths: [String: String], pollers: [Poller],
                 statusServer: StatusServer?) {
        self.buses = buses
        self.servers = servers
        self.enipServer = enipServer
        self.paths = paths
        self.pollers = pollers
        self.statusServer = statusServer
    }

    /// Starts every part the configuration names. A part that fails to start
    /// (a port already in use) stops those already started, and the error names
    /// the address and the reason. With a `metrics` registry, the lines'
    /// metrics are kept in it and the status endpoint serves it at `/metrics`.
    public static func start(_ configuration: Configuration, group: any EventLoopGroup, logger: Logger,
                             metrics: PrometheusCollectorRegistry? = nil) async throws -> GatewayService {
        let parts = Parts(metrics: metrics)
        do {
            return try await parts.start(configuration, group: group, logger: logger)
        } catch {
            await parts.service.stop()
            throw error
        }
    }

    /// What has started so far, so that a failure can stop it.
    private final class Parts {
        let metrics: PrometheusCollectorRegistry?
        var buses: [String: Bus] = [:]
        var paths: [String: String] = [:]
        var servers: [ModbusTCPServer] = []
        var enipServer: ENIPServer?
        var pollers: [Poller] = []
        var statusServer: StatusServer?

        init(metrics: PrometheusCollectorRegistry?) { self.metrics = metrics }

        var service: GatewayService {
            GatewayService(buses: buses, servers: servers, enipServer: enipServer, paths: paths, pollers: pollers, statusServer: statusServer)
        }

        /// The service, once every part has started.
        func start(_ configuration: Configuration, group: any EventLoopGroup, logger: Logger) async throws -> GatewayService {
            let factory: any MetricsFactory = metrics.map { PrometheusMetricsFactory(registry: $0) } ?? MetricsSystem.factory
            for line in configuration.lines {
                // Looked up at every opening: a re-plugged USB adapter may come back as another node.
                buses[line.name] = Bus(name: line.name, open: { try GatewayService.open(line) }, options: line.options, logger: logger,
                                       metrics: factory)
                paths[line.name] = (try? GatewayService.resolve(line)) ?? "(waiting for \(line.adapter))"
            }
            let polled = startPolls(configuration.polls, on: buses)
            pollers = polled.values.map(\.poller)
            let router = Router(routes: routes(configuration.routes, polled: polled))
            for listener in configuration.listeners {
                let serving: any ModbusServing = listener.readOnly ? ReadOnlyServing(base: router) : router
                servers.append(try await listening("Modbus/TCP", listener.host, listener.port) {
                    try await ModbusTCPServer.start(host: listener.host, port: listener.port, serving: serving, group: group,
                                                    connectionLimit: listener.connectionLimit, timeouts: listener.timeouts, accepts: allowing(listener.allow),
                                                    logger: logger)
                })
            }
            var sharing: [String: [UInt8: Poller]] = [:]
            for (key, entry) in polled { sharing[key.line, default: [:]][key.slave] = entry.poller }
            let (tags, devicePollers) = try DeviceTags.table(for: configuration.devices, on: buses, sharing: sharing)
            pollers += devicePollers
            if let enip = configuration.enip {
                enipServer = try await listening("EtherNet/IP", enip.host, enip.port) {
                    try await ENIPServer.start(host: enip.host, port: enip.port,
                                               router: MessageRouter(tags: tags, identity: enip.identity,
                                                                     connections: ConnectionManager(limit: enip.connectionLimit)),
                                               group: group, limits: enip.limits, accepts: allowing(enip.allow), logger: logger)
                }
            }
            let service = Box()
            statusServer = await startStatus(configuration, group: group, logger: logger, metrics: metrics) {
                service.value?.status ?? GatewayStatus(lines: [])
            }
            let made = self.service
            service.value = made
            return made
        }

        private func routes(_ routes: [Configuration.Route], polled: [DeviceKey: (poller: Poller, agentAge: Duration?)]) -> [UInt8: Router.Route] {
            var table: [UInt8: Router.Route] = [:]
            for route in routes {
                for (unit, plain) in Router.range(route.units, offset: route.offset, to: buses[route.line]!) {
                    let polled = polled[DeviceKey(line: route.line, slave: plain.slave)]
                    table[unit] = Router.Route(bus: plain.bus, slave: plain.slave, poller: polled?.poller, agentAge: polled?.agentAge)
                }
            }
            return table
        }
    }

    /// A server started on `host:port`; its failure says which server, where, and why.
    public static func listening<T>(_ what: String, _ host: String, _ port: Int, _ start: () async throws -> T) async throws -> T {
        do {
            return try await start()
        } catch {
            throw GatewayError(reason: "\(what) cannot listen on \(host):\(port): \(SocketFailure.reason(of: error))")
        }
    }

    /// The status endpoint; a port already taken costs the status, not the gateway.
    fileprivate static func startStatus(_ configuration: Configuration, group: any EventLoopGroup, logger: Logger,
                                        metrics: PrometheusCollectorRegistry?,
                                        status: @escaping @Sendable () -> GatewayStatus) async -> StatusServer? {
        guard let (host, port) = configuration.statusBind else { return nil }
        do {
            return try await StatusServer.start(host: host, port: port, group: group, metrics: metrics, status: status)
        } catch {
            logger.warning("no status endpoint on \(host):\(port): \(error)")
            return nil
        }
    }

    fileprivate struct DeviceKey: Hashable {
        let line: String
        let slave: UInt8
    }

    /// One poller per slave, polling what every [[poll]] for it names, at the fastest period asked.
    fileprivate static func startPolls(_ polls: [Configuration.Poll], on buses: [String: Bus]) -> [DeviceKey: (poller: Poller, agentAge: Duration?)] {
        var pollers: [DeviceKey: (poller: Poller, agentAge: Duration?)] = [:]
        for poll in polls {
            let key = DeviceKey(line: poll.line, slave: poll.slave)
            let entry = pollers[key] ?? (Poller(bus: buses[poll.line]!, slave: poll.slave, period: poll.period, reach: poll.reach), nil)
            entry.poller.poll(poll.addresses, period: poll.period)
            pollers[key] = (entry.poller, [entry.agentAge, poll.agentAge].compactMap { $0 }.max())
        }
        return pollers
    }

    /// The listener's allow list as the server's test of a client; nil lets everyone in.
    fileprivate static func allowing(_ allow: [AddressRange]) -> (@Sendable (SocketAddress?) -> Bool)? {
        guard !allow.isEmpty else { return nil }
        return { (address: SocketAddress?) -> Bool in
            guard let ip = address?.ipAddress else { return false }
            return allow.contains { $0.contains(ip) }
        }
    }

    fileprivate static func open(_ line: Configuration.Line) throws -> SerialPort {
        let port = try SerialPort(path: try resolve(line), settings: line.settings)
        if let rs485 = line.rs485 { _ = try port.setRS485(rs485) }
        return port
    }

    /// A device node written out is used as it is (a pty, a built-in UART);
    /// any other matcher is looked up among the adapters udev knows.
    fileprivate static func resolve(_ line: Configuration.Line) throws -> String {
        if case .node(let pattern) = line.adapter, !pattern.contains(where: { "*?[".contains($0) }) { return pattern }
        do {
            return try Discovery.resolve(line.adapter).node
        } catch {
            throw GatewayError(reason: "line \(line.name): \(error)")
        }
    }

    /// Stops in the order that loses no answer: the listeners stop accepting
    /// and reading, the pollers stop, each line finishes its transaction in
    /// flight (what waits behind it is answered 0x0A), the replies of what
    /// completed are sent, and only then are the connections closed.
    public func stop() async {
        for server in servers { server.drain() }
        await statusServer?.close()
        for poller in pollers { poller.stop() }
        for bus in buses.values { await bus.close() }
        for server in servers { try? await server.close() }
        try? await enipServer?.close()
    }
}

public struct GatewayError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
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

/// The service, for the status endpoint, which starts before the service is made.
private final class Box: Sendable {
    private let service = Mutex<GatewayService?>(nil)

    var value: GatewayService? {
        get { service.withLock { $0 } }
        set { service.withLock { $0 = newValue } }
    }
}

/// Why a server could not listen, in the system's words ("Address already in use").
public enum SocketFailure {
    public static func reason(of error: any Error) -> String {
        if let socket = error as? ServerSocketError { return String(cString: strerror(socket.code)) }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(error)"
    }
}
