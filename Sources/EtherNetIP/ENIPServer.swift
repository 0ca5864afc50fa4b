#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// An EtherNet/IP server on TCP: Logix tags behind the encapsulation
/// protocol, the Connection Manager and the Message Router.
public final class ENIPServer: Sendable {
    public let router: MessageRouter
    /// The port bound (the one asked for, or the one port 0 picked); kept
    /// across `disable()` and `enable()`.
    public let port: Int
    /// What may change while it runs: the reply delay, cpppo's latency and timeout.
    public let controls: ServerControls

    /// The TCP listener and (for discovery) the UDP socket on the same port:
    /// ListIdentity and ListServices; bind to 0.0.0.0 to hear broadcasts.
    private let listeners: Mutex<(tcp: (any Channel)?, udp: (any Channel)?)>
    private let bind: @Sendable (Int) async throws -> (any Channel, (any Channel)?)
    private let clients: ConnectionRegistry
    private let closed: EventLoopPromise<Void>
    private let switchTurn = Mutex(false)

    private init(listeners: (any Channel, (any Channel)?), router: MessageRouter, clients: ConnectionRegistry, controls: ServerControls,
                 bind: @escaping @Sendable (Int) async throws -> (any Channel, (any Channel)?)) {
        self.listeners = Mutex((listeners.0, listeners.1))
        self.port = listeners.0.localAddress?.port ?? 0
        self.router = router
        self.clients = clients
        self.controls = controls
        self.bind = bind
        closed = listeners.0.eventLoop.makePromise()
    }

    /// How long a client may hold a connection without using it, and how many may.
    public struct Limits: Sendable, Hashable {
        /// TCP clients at once; at the limit a new one closes the longest idle.
        public var connections: Int
        /// A client that sends nothing this long is closed (nil: never).
        public var idle: Duration?
        /// A message begun and not finished within this closes its connection.
        public var frame: Duration
        /// Replies a client has not read beyond this stop its requests being
        /// read until it catches up (its memory stays bounded).
        public var unsentReplies: Int

        public init(connections: Int = 256, idle: Duration? = .seconds(300), frame: Duration = .seconds(5), unsentReplies: Int = 1 << 20) {
            self.connections = connections
            self.idle = idle
            self.frame = frame
            self.unsentReplies = unsentReplies
        }
    }

    /// `delay` (seconds, drawn per reply from the range) holds every reply
    /// back, as cpppo's `--delay` does, to try clients' timeouts.
    /// `accepts` decides which clients may connect (the gateway's allow list).
    public static func start(host: String, port: Int = 44818, router: MessageRouter, group: any EventLoopGroup,
                             discovery: Bool = true, delay: ClosedRange<Double>? = nil, limits: Limits = Limits(),
                             accepts: (@Sendable (SocketAddress?) -> Bool)? = nil,
                             logger: Logger = Logger(label: "fieldgw.enip")) async throws -> ENIPServer {
        let registry = ConnectionRegistry(limit: limits.connections)
        let controls = ServerControls(delay: delay)
        // Made anew for each bind (enable() binds again): a bootstrap is not Sendable.
        let bootstrap: @Sendable () -> ServerBootstrap = { ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: limits.unsentReplies / 2, high: limits.unsentReplies))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let accepts, !accepts(channel.remoteAddress) {
                        let peer = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                        logger.notice("refused EtherNet/IP connection from \(peer): not in the allow list")
                        throw NotAllowed()
                    }
                    if let evicted = registry.admit(channel) {
                        logger.notice("closing the longest-idle EtherNet/IP connection for a new client: limit \(limits.connections)")
                        evicted.close(promise: nil)
                    }
                    let session = EncapsulationSession(router: router, local: channel.localAddress, eventLoop: channel.eventLoop)
                    if let idle = limits.idle {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle.timeAmount))
                    }
                    try channel.pipeline.syncOperations.addHandler(ConnectionGuard(registry: registry, frameTimeout: limits.frame.timeAmount))
                    // Stops reading a client whose unsent replies pass the high-water mark.
                    try channel.pipeline.syncOperations.addHandler(BackPressureHandler())
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(EncapsulationDecoder()))
                    try channel.pipeline.syncOperations.addHandler(EncapsulationHandler(session: session, controls: controls, logger: logger))
                }
            }
        }
        let bind: @Sendable (Int) async throws -> (any Channel, (any Channel)?) = { port in
            let channel = try await bootstrap().bind(host: host, port: port).get()
            guard discovery else { return (channel, nil) }
            do {
                return (channel, try await discoveryChannel(host: host, port: channel.localAddress?.port ?? port, local: channel.localAddress,
                                                            identity: router.identity, group: group))
            } catch {
                try? await channel.close()
                throw error
            }
        }
        return ENIPServer(listeners: try await bind(port), router: router, clients: registry, controls: controls, bind: bind)
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

    /// Stops accepting clients and answering discovery; the clients connected stay.
    public func stopAccepting() {
        let (tcp, udp) = listeners.withLock { listeners in
            defer { listeners = (nil, nil) }
            return listeners
        }
        tcp?.close(promise: nil)
        udp?.close(promise: nil)
    }

    /// cpppo's `server.control.disable`: the port closed (a client's connect
    /// is refused) and every client's connection closed, until `enable()`.
    public func disable() async {
        await switching {
            stopAccepting()
            for client in clients.all { try? await client.close() }
        }
    }

    /// Listens again on the same port after `disable()`.
    public func enable() async throws {
        try await switching {
            guard isDisabled else { return }
            let bound = try await bind(port)
            listeners.withLock { $0 = (bound.0, bound.1) }
        }
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

    public var isDisabled: Bool { listeners.withLock { $0.tcp == nil } }

    /// The address the listener is bound to (nil while disabled).
    public var localAddress: SocketAddress? { listeners.withLock { $0.tcp?.localAddress } }

    /// Stops accepting and closes every client's connection.
    public func close() async throws {
        await disable()
        closed.succeed()
    }

    /// Completes when `close()` has been called (or the server is let go).
    public var onClose: EventLoopFuture<Void> { closed.futureResult }

    // A promise never fulfilled traps in debug builds when freed: a server
    // stopped with stopAccepting() alone (the gateway's) must not.
    deinit { closed.succeed() }

    /// The clients connected now, with what each has sent.
    public var connections: [ClientConnection] { clients.connections }

    /// Closes the client connected from `peer` (cpppo's `connections.<key>.eof`).
    public func disconnect(_ connection: ClientConnection) {
        clients.channel(connection.id)?.close(promise: nil)
    }

    struct NotAllowed: Error, CustomStringConvertible {
        var description: String { "client not in the allow list" }
    }
}

/// Splits a TCP stream into encapsulation messages, however the bytes arrive.
public struct EncapsulationDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = Encapsulation

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = Encapsulation.message(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }
}

/// Answers one connection's messages in order; replies to a burst go out in
/// one flush. A reply that waits for a device holds back those after it.
final class EncapsulationHandler: ChannelInboundHandler {
    typealias InboundIn = Encapsulation
    typealias OutboundOut = ByteBuffer

    private let session: EncapsulationSession
    private let controls: ServerControls
    private let logger: Logger
    /// Replies not yet written, in order; nil while one waits for its device.
    private var waiting = CircularBuffer<Encapsulation?>()
    /// The sequence number of `waiting`'s first.
    private var first = 0

    init(session: EncapsulationSession, controls: ServerControls, logger: Logger) {
        self.session = session
        self.controls = controls
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var outcome = session.handle(unwrapInboundIn(data))
        if case .reply(let reply) = outcome, let seconds = controls.nextDelay() {
            let wait = TimeAmount.nanoseconds(Int64(seconds * 1e9))
            outcome = .later(context.eventLoop.scheduleTask(in: wait) { reply }.futureResult)
        }
        switch outcome {
        case .reply(let reply) where waiting.isEmpty:
            write(reply, context: context)
        case .reply(let reply):
            waiting.append(reply)
        case .later(let future):
            let sequence = first + waiting.count
            waiting.append(nil)
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { [self] result in
                // A session never fails its futures; a lost one still keeps the order.
                complete(sequence, with: (try? result.get()), context: context)
            }
        case .none:
            break
        case .close:
            context.close(promise: nil)
        }
    }

    private func complete(_ sequence: Int, with reply: Encapsulation?, context: ChannelHandlerContext) {
        guard sequence >= first, sequence - first < waiting.count else { return }
        waiting[offset: sequence - first] = reply ?? Encapsulation(command: EncapsulationCommand.nop)
        while let head = waiting.first, let reply = head {
            waiting.removeFirst()
            first += 1
            if reply.command != EncapsulationCommand.nop { write(reply, context: context) }
        }
        context.flush()
    }

    private func write(_ reply: Encapsulation, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: Encapsulation.headerLength + reply.data.count)
        reply.write(to: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("closing EtherNet/IP connection: \(error)")
        context.close(promise: nil)
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
        let probe = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
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
