#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import Synchronization

/// A TCP server for a request-reply protocol: many connections, each with
/// pipelined requests answered in order by its session. A connection that
/// sends what cannot be framed is closed once answered; the others go on.
///
/// Its sockets are served by `ServerLoop` threads (epoll) rather than a
/// SwiftNIO pipeline, for speed (see `ServerLoop`); `group` is where
/// replies that must wait make their futures.
public final class StreamServer: Sendable {
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

    /// What a server is asked to be, beyond its address and protocol.
    public struct Options: Sendable {
        /// Threads, each with its own listening socket on the same port (the
        /// kernel shares the clients out).
        public var threads = 1
        /// At the limit a new client closes the longest-idle one (refused
        /// only when none is idle).
        public var connectionLimit = 1024
        public var timeouts = ServerTimeouts()
        /// Replies a client has not read beyond this stop its requests being read.
        public var outputLimit = 1 << 20
        /// Who may connect (an allow list); nil: anyone.
        public var accepts: (@Sendable (SocketAddress?) -> Bool)?
        public var metrics: (any LoopMetrics)?
        /// Keep `clients` (who is connected, what each sent) for other
        /// threads: the simulators' web API. Off, reads pay nothing for it.
        public var trackClients = false
        /// Tests shrink clients' kernel send buffers (which otherwise grow to
        /// megabytes) to reach `outputLimit` soon.
        public var sendBuffer: Int32?

        public init() {}
    }

    /// Binds `host:port` and starts serving `service`.
    public static func start(host: String, port: Int, service: any StreamService, group: any EventLoopGroup, options: Options = Options(),
                             logger: Logger) throws -> StreamServer {
        let settings = ServerLoop.Settings(service: service, options: options, connections: ConnectionCounter(limit: options.connectionLimit),
                                           group: group, logger: logger)
        var address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        var loops: [ServerLoop] = []
        let threads = max(options.threads, 1)
        do {
            for _ in 0..<threads {
                let listener = try listen(on: address, shared: threads > 1)
                address = try boundAddress(of: listener)
                loops.append(try ServerLoop(listener: listener, settings: settings))
            }
        } catch {
            for loop in loops { loop.abandon() }
            throw error
        }
        loops.forEach { $0.start() }
        return StreamServer(localAddress: address, loops: loops, connections: settings.connections)
    }

    /// Times a client's requests went unread because over `outputLimit` of
    /// its replies waited for it to read them.
    public var pausedReading: Int { connections.pausedReading.load(ordering: .relaxed) }

    /// The clients connected now (kept only with `trackClients`).
    public var clients: [ConnectedClient] { loops.flatMap(\.connected) }

    /// Closes one client's connection.
    public func disconnect(_ client: ConnectedClient) {
        for loop in loops where loop.disconnect(client.id) { return }
    }

    /// Stops listening and reading requests; the replies still due (a serial
    /// transaction in flight) are sent when they come. `close` ends it.
    public func drain() {
        for loop in loops { loop.drain() }
    }

    /// Stops listening, sends the replies still due (waiting up to `grace`
    /// for them), and closes every connection.
    public func close(grace: Duration = .seconds(2)) async {
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

    /// The local address of `socket` (a listener's, or a client's end).
    static func boundAddress(of socket: Int32) throws -> SocketAddress {
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
