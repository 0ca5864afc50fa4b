import Discovery
import EtherNetIP
import Logging
import Modbus
import NIOCore
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

    public static func start(_ configuration: Configuration, group: any EventLoopGroup, logger: Logger) async throws -> GatewayService {
        var buses: [String: Bus] = [:]
        var paths: [String: String] = [:]
        for line in configuration.lines {
            // Looked up at every opening: a re-plugged USB adapter may come back as another node.
            buses[line.name] = Bus(name: line.name, open: { try open(line) }, options: line.options, logger: logger)
            paths[line.name] = (try? resolve(line)) ?? "(waiting for \(line.adapter))"
        }
        let pollers = startPolls(configuration.polls, on: buses)
        var routes: [UInt8: Router.Route] = [:]
        for route in configuration.routes {
            for (unit, plain) in Router.range(route.units, offset: route.offset, to: buses[route.line]!) {
                let polled = pollers[DeviceKey(line: route.line, slave: plain.slave)]
                routes[unit] = Router.Route(bus: plain.bus, slave: plain.slave, poller: polled?.poller, agentAge: polled?.agentAge)
            }
        }
        let router = Router(routes: routes)
        var servers: [ModbusTCPServer] = []
        for listener in configuration.listeners {
            let serving: any ModbusServing = listener.readOnly ? ReadOnlyServing(base: router) : router
            let server = try await ModbusTCPServer.start(host: listener.host, port: listener.port, serving: serving, group: group,
                                                         connectionLimit: listener.connectionLimit, accepts: allowing(listener.allow),
                                                         logger: logger)
            servers.append(server)
        }
        let (tags, devicePollers) = try DeviceTags.table(for: configuration.devices, on: buses)
        var enipServer: ENIPServer?
        if let enip = configuration.enip {
            enipServer = try await ENIPServer.start(host: enip.host, port: enip.port,
                                                    router: MessageRouter(tags: tags, connections: ConnectionManager(limit: enip.connectionLimit)),
                                                    group: group, accepts: allowing(enip.allow), logger: logger)
        }
        let service = Box()
        let statusServer = await startStatus(configuration, group: group, logger: logger) { service.value?.status ?? GatewayStatus(lines: []) }
        service.value = GatewayService(buses: buses, servers: servers, enipServer: enipServer, paths: paths,
                                       pollers: pollers.values.map(\.poller) + devicePollers, statusServer: statusServer)
        return service.value!
    }

    /// The status endpoint; a port already taken costs the status, not the gateway.
    private static func startStatus(_ configuration: Configuration, group: any EventLoopGroup, logger: Logger,
                                    status: @escaping @Sendable () -> GatewayStatus) async -> StatusServer? {
        guard let (host, port) = configuration.statusBind else { return nil }
        do {
            return try await StatusServer.start(host: host, port: port, group: group, status: status)
        } catch {
            logger.warning("no status endpoint on \(host):\(port): \(error)")
            return nil
        }
    }

    private struct DeviceKey: Hashable {
        let line: String
        let slave: UInt8
    }

    /// One poller per slave, polling what every [[poll]] for it names, at the fastest period asked.
    private static func startPolls(_ polls: [Configuration.Poll], on buses: [String: Bus]) -> [DeviceKey: (poller: Poller, agentAge: Duration?)] {
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
    private static func allowing(_ allow: [AddressRange]) -> (@Sendable (SocketAddress?) -> Bool)? {
        guard !allow.isEmpty else { return nil }
        return { (address: SocketAddress?) -> Bool in
            guard let ip = address?.ipAddress else { return false }
            return allow.contains { $0.contains(ip) }
        }
    }

    private static func open(_ line: Configuration.Line) throws -> SerialPort {
        let port = try SerialPort(path: try resolve(line), settings: line.settings)
        if let rs485 = line.rs485 { _ = try port.setRS485(rs485) }
        return port
    }

    /// A device node written out is used as it is (a pty, a built-in UART);
    /// any other matcher is looked up among the adapters udev knows.
    private static func resolve(_ line: Configuration.Line) throws -> String {
        if case .node(let pattern) = line.adapter, !pattern.contains(where: { "*?[".contains($0) }) { return pattern }
        do {
            return try Discovery.resolve(line.adapter).node
        } catch {
            throw GatewayError(reason: "line \(line.name): \(error)")
        }
    }

    public func stop() async {
        await statusServer?.close()
        for poller in pollers { poller.stop() }
        for server in servers { try? await server.close() }
        try? await enipServer?.close()
        for bus in buses.values { await bus.close() }
    }
}

public struct GatewayError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// A listener that only reads: writes are refused with exception 1 (illegal function).
struct ReadOnlyServing: ModbusServing {
    let base: any ModbusServing

    func serve(unit: UInt8, pdu: [UInt8], from connection: ModbusConnection, on eventLoop: any EventLoop) -> Served {
        if let function = pdu.first, [5, 6, 15, 16, 22, 23].contains(function) {
            return .now([function | 0x80, ExceptionCode.illegalFunction.rawValue])
        }
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
