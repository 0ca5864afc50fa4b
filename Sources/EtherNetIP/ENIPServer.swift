#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import StreamServer
import Synchronization

/// An EtherNet/IP server on TCP: Logix tags behind the encapsulation
/// protocol, the Connection Manager and the Message Router.
///
/// Its TCP clients are served by `StreamServer`'s epoll thread (as Modbus/TCP
/// is), not a SwiftNIO pipeline: one request at a time, NIO's five handlers
/// and three system calls left it at 0.83× of libplctag's C `ab_server`.
/// Discovery (UDP) and the futures of replies that wait stay on `group`.
public final class ENIPServer: Sendable {
    /// What answers every request: the tags, the identity and the connections.
    public let router: MessageRouter
    /// The port bound (the one asked for, or the one port 0 picked); kept
    /// across `disable()` and `enable()`.
    public let port: Int
    /// What may change while it runs: the reply delay, cpppo's latency and timeout.
    public let controls: ServerControls

    /// The TCP server and (for discovery) the UDP socket on the same port:
    /// ListIdentity and ListServices; bind to 0.0.0.0 to hear broadcasts.
    private let listeners: Mutex<(tcp: StreamServer?, udp: (any Channel)?)>
    private let bind: @Sendable (Int) async throws -> (StreamServer, (any Channel)?)
    private let closed: EventLoopPromise<Void>
    private let switchTurn = Mutex(false)

    private init(listeners: (StreamServer, (any Channel)?), router: MessageRouter, controls: ServerControls, group: any EventLoopGroup,
                 bind: @escaping @Sendable (Int) async throws -> (StreamServer, (any Channel)?)) {
        self.listeners = Mutex((listeners.0, listeners.1))
        self.port = listeners.0.port
        self.router = router
        self.controls = controls
        self.bind = bind
        closed = group.next().makePromise()
    }

    /// How long a client may hold a connection without using it, and how many may.
    public struct Limits: Sendable, Hashable {
        /// TCP clients at once; at the limit a new one closes the longest
        /// idle (refused only when every client waits for a reply).
        public var connections: Int
        /// A client that sends nothing this long, with no reply due to it, is closed (nil: never).
        public var idle: Duration?
        /// A message begun and not finished within this closes its connection.
        public var frame: Duration
        /// Replies a client has not read beyond this stop its requests being
        /// read until it catches up (its memory stays bounded).
        public var unsentReplies: Int
        /// Threads serving the clients (each client stays on one). A
        /// request's work (tag hooks included) runs on its client's thread
        /// and holds up the other clients there.
        public var threads: Int

        /// Limits that suit a controller on a plant network: 256 clients, 5 minutes
        /// idle, 5 seconds for a message, a megabyte of unread replies, one thread.
        public init(connections: Int = 256, idle: Duration? = .seconds(300), frame: Duration = .seconds(5), unsentReplies: Int = 1 << 20,
                    threads: Int = 1) {
            self.connections = connections
            self.idle = idle
            self.frame = frame
            self.unsentReplies = unsentReplies
            self.threads = threads
        }

        var options: StreamServer.Options {
            var options = StreamServer.Options()
            options.threads = threads
            options.connectionLimit = connections
            options.timeouts = ServerTimeouts(idle: idle, frame: frame)
            options.outputLimit = unsentReplies
            // The web API lists the clients and what each sent (cpppo's connections).
            options.trackClients = true
            return options
        }
    }

    /// `delay` (seconds, drawn per reply from the range) holds every reply
    /// back: cpppo's `--delay`, for testing clients' timeouts.
    /// `accepts` decides which clients may connect (the gateway's allow list).
    public static func start(host: String, port: Int = 44818, router: MessageRouter, group: any EventLoopGroup,
                             discovery: Bool = true, delay: ClosedRange<Double>? = nil, limits: Limits = Limits(),
                             accepts: (@Sendable (SocketAddress?) -> Bool)? = nil,
                             logger: Logger = Logger(label: "fieldgw.enip")) async throws -> ENIPServer {
        let controls = ServerControls(delay: delay)
        let service = EncapsulationService(router: router, controls: controls)
        var options = limits.options
        options.accepts = accepts
        let bind: @Sendable (Int) async throws -> (StreamServer, (any Channel)?) = { [options] port in
            // Port 0 picks a free TCP port, whose UDP twin may be taken: then another pair is tried.
            var attempt = 0
            while true {
                attempt += 1
                let tcp = try StreamServer.start(host: host, port: port, service: service, group: group, options: options, logger: logger)
                guard discovery else { return (tcp, nil) }
                do {
                    return (tcp, try await discoveryChannel(host: host, port: tcp.port, local: tcp.localAddress, identity: router.identity, group: group))
                } catch let error as IOError where port == 0 && error.errnoCode == EADDRINUSE && attempt < 8 {
                    await tcp.close(grace: .zero)
                } catch {
                    await tcp.close(grace: .zero)
                    throw error
                }
            }
        }
        return ENIPServer(listeners: try await bind(port), router: router, controls: controls, group: group, bind: bind)
    }

    private static func discoveryChannel(host: String, port: Int, local: SocketAddress?, identity: Identity,
                                         group: any EventLoopGroup) async throws -> any Channel {
        try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_broadcast), value: 1)
            .channelInitializer { udp in
                udp.eventLoop.makeCompletedFuture {
                    try udp.pipeline.syncOperations.addHandler(DiscoveryHandler(identity: identity, local: local))
                }
            }
            .bind(host: host, port: port).get()
    }

    /// Stops listening (and answering discovery) and reading requests; the
    /// replies still due (a write through a serial line) go out as they come.
    /// The end of a server (the gateway's shutdown): `close` follows, and
    /// `enable` does not undo it (it is not `disable`).
    public func drain() {
        let (tcp, udp) = listeners.withLock { ($0.tcp, $0.udp) }
        tcp?.drain()
        udp?.close(promise: nil)
    }

    /// cpppo's `server.control.disable`: the port closed (a client's connect
    /// is refused) and every client's connection closed, until `enable()`.
    public func disable() async {
        await switching { await shut(grace: .zero) }
    }

    /// Listens again on the same port after `disable()`.
    public func enable() async throws {
        try await switching {
            guard isDisabled else { return }
            let bound = try await bind(port)
            listeners.withLock { $0 = (bound.0, bound.1) }
        }
    }

    /// Closes the listeners and, once the replies due are sent or `grace`
    /// has passed, every client.
    private func shut(grace: Duration) async {
        let (tcp, udp) = listeners.withLock { listeners in
            defer { listeners = (nil, nil) }
            return listeners
        }
        // Awaited: `enable`, or a new server given the same port, binds it next.
        try? await udp?.close()
        await tcp?.close(grace: grace)
    }

    /// One `disable` or `enable` at a time: two at once could bind twice, or
    /// leave a server enabled that was just disabled.
    private func switching(_ body: () async throws -> Void) async rethrows {
        while !switchTurn.withLock({ busy in defer { busy = true }; return !busy }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
        defer { switchTurn.withLock { $0 = false } }
        try await body()
    }

    /// Whether ``ENIPServer/disable()`` has closed the port (until ``ENIPServer/enable()``).
    public var isDisabled: Bool { listeners.withLock { $0.tcp == nil } }

    /// The address the listener is bound to (nil while disabled).
    public var localAddress: SocketAddress? { listeners.withLock { $0.tcp?.localAddress } }

    /// Stops accepting, sends the replies due (for up to 2 s) and closes every
    /// client's connection, and the I/O connections with the exchange's socket.
    public func close() async throws {
        await switching { await shut(grace: .seconds(2)) }
        router.io?.stop()
        closed.succeed()
    }

    /// Completes when `close()` has been called (or the server is let go).
    public var onClose: EventLoopFuture<Void> { closed.futureResult }

    // A promise never fulfilled traps in debug builds when freed: a server
    // let go without close() must not.
    deinit { closed.succeed() }

    /// The clients connected now, with what each has sent.
    public var connections: [ClientConnection] { listeners.withLock { $0.tcp }?.clients ?? [] }

    /// Closes one client's connection (cpppo's `connections.<key>.eof`).
    public func disconnect(_ connection: ClientConnection) {
        listeners.withLock { $0.tcp }?.disconnect(connection)
    }
}

/// A client connected to the server, and what it has sent.
public typealias ClientConnection = ConnectedClient

/// Splits a TCP stream into encapsulation messages, however the bytes arrive.
public struct EncapsulationDecoder: ByteToMessageDecoder, Sendable {
    /// Each whole message is passed on as an ``Encapsulation``.
    public typealias InboundOut = Encapsulation

    /// A decoder with nothing buffered.
    public init() {}

    /// Passes on the next whole message, if the buffer holds one.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = Encapsulation.message(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }
}

/// Answers ListIdentity and ListServices datagrams (discovery by broadcast);
/// anything else over UDP is ignored, as a controller does.
final class DiscoveryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let identity: Identity
    private let local: SocketAddress?

    init(identity: Identity, local: SocketAddress?) {
        self.identity = identity
        self.local = local
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var bytes = envelope.data
        guard let request = Encapsulation.message(from: &bytes) else { return }
        let items: [CommonPacket.Item]
        switch request.command {
        case EncapsulationCommand.listIdentity: items = [identity.listIdentityItem(address: Self.address(of: local, toward: envelope.remoteAddress))]
        case EncapsulationCommand.listServices: items = [EncapsulationSession.communications]
        default: return
        }
        var out = context.channel.allocator.buffer(capacity: 128)
        request.reply(data: CommonPacket.itemBytes(items)).write(to: &out)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: out)), promise: nil)
    }

    /// A server bound to every interface names the one that reaches the
    /// asker (a discovery list of 0.0.0.0 helps nobody): the kernel picks it
    /// when a datagram socket connects there.
    static func address(of local: SocketAddress?, toward remote: SocketAddress) -> SocketAddress? {
        guard case .v4(let bound)? = local, bound.address.sin_addr.s_addr == 0 else { return local }
        let probe = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return local }
        defer { close(probe) }
        var name = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let found = remote.withSockAddr { connect(probe, $0, socklen_t($1)) } == 0 && withUnsafeMutablePointer(to: &name) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probe, $0, &length) }
        } == 0
        guard found else { return local }
        name.sin_port = bound.address.sin_port
        return SocketAddress(name, host: "")
    }
}
