import Logging
import NIOCore
import NIOPosix

/// An EtherNet/IP server on TCP: Logix tags behind the encapsulation
/// protocol, the Connection Manager and the Message Router.
public final class ENIPServer: Sendable {
    public let channel: any Channel
    public let router: MessageRouter
    public var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel, router: MessageRouter) {
        self.channel = channel
        self.router = router
    }

    public static func start(host: String, port: Int = 44818, router: MessageRouter, group: any EventLoopGroup,
                             logger: Logger = Logger(label: "fieldgw.enip")) async throws -> ENIPServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let session = EncapsulationSession(router: router, local: channel.localAddress)
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(EncapsulationDecoder()))
                    try channel.pipeline.syncOperations.addHandler(EncapsulationHandler(session: session, logger: logger))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return ENIPServer(channel: channel, router: router)
    }

    public func close() async throws {
        try await channel.close()
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

/// Answers one connection's messages in order; replies to a burst go out in one flush.
final class EncapsulationHandler: ChannelInboundHandler {
    typealias InboundIn = Encapsulation
    typealias OutboundOut = ByteBuffer

    private let session: EncapsulationSession
    private let logger: Logger

    init(session: EncapsulationSession, logger: Logger) {
        self.session = session
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch session.handle(unwrapInboundIn(data)) {
        case .reply(let reply):
            var buffer = context.channel.allocator.buffer(capacity: Encapsulation.headerLength + reply.data.count)
            reply.write(to: &buffer)
            context.write(wrapOutboundOut(buffer), promise: nil)
        case .none:
            break
        case .close:
            context.close(promise: nil)
        }
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
