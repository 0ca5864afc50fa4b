#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import Synchronization

/// A Modbus/TCP server: many connections, each with pipelined requests
/// answered in order and with their transaction ids. A connection that sends
/// a bad MBAP header is closed; the others go on.
///
/// Its sockets are served by `ServerLoop` threads (epoll) rather than a
/// SwiftNIO pipeline, for speed (see `ServerLoop`); `group` is where replies
/// that must wait make their futures, as `ModbusServing` expects.
public final class ModbusTCPServer: Sendable {
    /// The address bound (with the port chosen when asked for port 0).
    public let localAddress: SocketAddress
    public var port: Int { localAddress.port ?? 0 }
    private let loops: [ServerLoop]
    private let connections: ConnectionCounter

    private init(localAddress: SocketAddress, loops: [ServerLoop], connections: ConnectionCounter) {
        self.localAddress = localAddress
        self.loops = loops
        self.connections = connections
    }

    /// Times a client's requests went unread because over a megabyte of its
    /// replies waited for it to read them.
    public var pausedReading: Int { connections.pausedReading.load(ordering: .relaxed) }

    /// How long a client may hold a connection without using it.
    public struct Timeouts: Sendable, Hashable {
        /// A client that sends nothing this long, with no reply due to it, is
        /// closed (nil: never). Modbus/TCP masters poll far more often.
        public var idle: Duration?
        /// A frame begun and not finished within this is dropped with its
        /// connection (slowloris, a half-sent request).
        public var frame: Duration

        public init(idle: Duration? = .seconds(300), frame: Duration = .seconds(5)) {
            self.idle = idle
            self.frame = frame
        }
    }

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
        let faults = faultSwitch ?? FaultSwitch()
        var settings = ServerLoop.Settings(
            serving: faultSwitch == nil ? serving : DelayedServing(base: serving, faults: faults), faults: faults,
            accepts: accepts, connections: ConnectionCounter(limit: connectionLimit), group: group, logger: logger)
        settings.timeouts = timeouts
        settings.metrics = metrics
        settings.trackClients = trackClients
        return try start(host: host, port: port, threads: threads, settings: settings)
    }

    static func start(host: String, port: Int, threads: Int, settings: ServerLoop.Settings) throws -> ModbusTCPServer {
        var address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        var loops: [ServerLoop] = []
        for _ in 0..<max(threads, 1) {
            let listener = try listen(on: address, shared: threads > 1)
            address = try boundAddress(of: listener)
            loops.append(try ServerLoop(listener: listener, settings: settings))
        }
        loops.forEach { $0.start() }
        return ModbusTCPServer(localAddress: address, loops: loops, connections: settings.connections)
    }

    /// A client connected, and what it has sent.
    public struct Client: Sendable {
        let id: Int
        public var interface: String
        public var port: Int
        public var received = 0
        public var requests = 0
        /// cpppo's name for it: "127_0_0_1_52591".
        public var key: String { interface.replacingOccurrences(of: ".", with: "_").replacingOccurrences(of: ":", with: "_") + "_\(port)" }
    }

    /// The clients connected now (kept only when started with `trackClients`).
    public var clients: [Client] { loops.flatMap(\.connected) }

    /// Closes one client's connection.
    public func disconnect(_ client: Client) {
        for loop in loops where loop.disconnect(client.id) { return }
    }

    /// Stops listening and reading requests; the replies still due (a serial
    /// transaction in flight) are sent when they come. `close` ends it.
    public func drain() {
        for loop in loops { loop.drain() }
    }

    /// Stops listening, sends the replies still due (waiting up to `grace`
    /// for them), and closes every connection.
    public func close(grace: Duration = .seconds(2)) async throws {
        for loop in loops { await loop.stop(grace: grace) }
    }

    private static func listen(on address: SocketAddress, shared: Bool) throws -> Int32 {
        let socket = Glibc.socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw ServerSocketError(operation: "socket", code: errno) }
        var on: Int32 = 1
        _ = setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if shared { _ = setsockopt(socket, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size)) }
        let bound = address.withSockAddr { bind(socket, $0, socklen_t($1)) }
        guard bound == 0, Glibc.listen(socket, 256) == 0 else {
            let error = ServerSocketError(operation: "bind \(address.ipAddress ?? "?"):\(address.port ?? 0)", code: errno)
            Glibc.close(socket)
            throw error
        }
        return socket
    }

    private static func boundAddress(of socket: Int32) throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard result == 0, let address = SocketAddress(storage) else { throw ServerSocketError(operation: "getsockname", code: errno) }
        return address
    }
}

/// Counts open connections against a limit, and clients paused.
final class ConnectionCounter: Sendable {
    private let count = Mutex(0)
    let pausedReading = Atomic(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func open() -> Bool {
        count.withLock { value in
            guard value < limit else { return false }
            value += 1
            return true
        }
    }

    func close() { count.withLock { $0 -= 1 } }

    var current: Int { count.withLock { $0 } }
}
