import Logging
import NIOCore
import StreamServer

/// A Modbus/TCP server: many connections, each with pipelined requests
/// answered in order and with their transaction ids. A connection that sends
/// a bad MBAP header is closed; the others go on.
///
/// Its sockets are served by `StreamServer`'s epoll threads rather than a
/// SwiftNIO pipeline, for speed (see `ServerLoop`); `group` is where replies
/// that must wait make their futures, as `ModbusServing` expects.
public final class ModbusTCPServer: Sendable {
    private let server: StreamServer

    private init(server: StreamServer) { self.server = server }

    /// The address bound (with the port chosen when asked for port 0).
    public var localAddress: SocketAddress { server.localAddress }
    /// The port bound: the one asked for, or the kernel's choice for port 0.
    public var port: Int { server.port }

    /// Times a client's requests went unread because over a megabyte of its
    /// replies waited for it to read them.
    public var pausedReading: Int { server.pausedReading }

    /// How long a client may hold a connection without using it. Modbus/TCP
    /// masters poll far more often than the idle timeout's default.
    public typealias Timeouts = ServerTimeouts

    /// Binds `host:port` and starts serving on `threads` threads (each with
    /// its own listening socket on the same port; the kernel shares the
    /// clients out). `faults` make every reply misbehave (the simulator's
    /// `--evil`); a real server has none. At `connectionLimit` a new client
    /// closes the longest-idle one (refused only when none is idle).
    public static func start(host: String, port: Int, serving: any ModbusServing, group: any EventLoopGroup,
                             threads: Int = 1, connectionLimit: Int = 1024, timeouts: Timeouts = Timeouts(), faults: [ModbusFault] = [],
                             accepts: (@Sendable (SocketAddress?) -> Bool)? = nil, metrics: ListenerMetrics? = nil,
                             logger: Logger = Logger(label: "fieldgw.modbus.tcp")) async throws -> ModbusTCPServer {
        try await start(host: host, port: port, serving: serving, group: group, threads: threads, connectionLimit: connectionLimit,
                        timeouts: timeouts, faultSwitch: faults.isEmpty ? nil : FaultSwitch(faults), accepts: accepts, metrics: metrics,
                        logger: logger)
    }

    /// As above, with faults that may be changed while it serves (the
    /// simulator's web API); nil for none, ever.
    public static func start(host: String, port: Int, serving: any ModbusServing, group: any EventLoopGroup,
                             threads: Int = 1, connectionLimit: Int = 1024, timeouts: Timeouts = Timeouts(), faultSwitch: FaultSwitch?,
                             accepts: (@Sendable (SocketAddress?) -> Bool)? = nil, metrics: ListenerMetrics? = nil, trackClients: Bool = false,
                             logger: Logger = Logger(label: "fieldgw.modbus.tcp")) async throws -> ModbusTCPServer {
        var options = StreamServer.Options()
        options.threads = threads
        options.connectionLimit = connectionLimit
        options.timeouts = timeouts
        options.accepts = accepts
        options.metrics = metrics
        options.trackClients = trackClients
        return try start(host: host, port: port, serving: serving, group: group, faultSwitch: faultSwitch, options: options, logger: logger)
    }

    static func start(host: String, port: Int, serving: any ModbusServing, group: any EventLoopGroup, faultSwitch: FaultSwitch? = nil,
                      options: StreamServer.Options, logger: Logger = Logger(label: "fieldgw.modbus.tcp")) throws -> ModbusTCPServer {
        let faults = faultSwitch ?? FaultSwitch()
        let service = ModbusService(serving: faultSwitch == nil ? serving : DelayedServing(base: serving, faults: faults), faults: faults)
        return ModbusTCPServer(server: try StreamServer.start(host: host, port: port, service: service, group: group, options: options,
                                                              logger: logger))
    }

    /// A client connected, and what it has sent.
    public typealias Client = ConnectedClient

    /// The clients connected now (kept only when started with `trackClients`).
    public var clients: [Client] { server.clients }

    /// Closes one client's connection.
    public func disconnect(_ client: Client) { server.disconnect(client) }

    /// Stops listening and reading requests; the replies still due (a serial
    /// transaction in flight) are sent when they come. `close` ends it.
    public func drain() { server.drain() }

    /// Stops listening, sends the replies still due (waiting up to `grace`
    /// for them), and closes every connection.
    public func close(grace: Duration = .seconds(2)) async throws {
        await server.close(grace: grace)
    }
}
