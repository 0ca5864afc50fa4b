import NIOCore
import NIOPosix

/// A Modbus/TCP client with a pipelining depth: up to `depth` requests in
/// flight on the one connection, matched to their replies by transaction id.
/// Requests beyond the depth wait their turn, in order.
public final class ModbusTCPClient: Sendable {
    /// The connection, with the MBAP codec and the pipelining handler in its pipeline.
    public let channel: any Channel
    /// How long each request waits for its reply, from when it is sent.
    public let timeout: TimeAmount

    private init(channel: any Channel, timeout: TimeAmount) {
        self.channel = channel
        self.timeout = timeout
    }

    /// Connects to `host:port` (waiting up to 5 s) with `depth` requests allowed in
    /// flight (at least 1), each given `timeout` to be answered.
    public static func connect(host: String, port: Int, group: any EventLoopGroup, depth: Int = 1,
                               timeout: TimeAmount = .seconds(1)) async throws -> ModbusTCPClient {
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(MBAPDecoder()),
                        MessageToByteHandler(MBAPEncoder()),
                        ModbusClientHandler(depth: max(1, depth), timeout: timeout),
                    ])
                }
            }
        // A numeric address skips NIO's resolver, whose getaddrinfo waits on a Dispatch
        // queue that a busy process can hold up past the connect timeout.
        let numeric = try? SocketAddress(ipAddress: host, port: port)
        let channel = try await (numeric.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: host, port: port)).get()
        return ModbusTCPClient(channel: channel, timeout: timeout)
    }

    /// Sends `request` to `unit` and returns the reply, which may be an
    /// `.exception`. Fails with `.timeout` or `.connection`, or
    /// `.malformedReply` when the reply does not fit the request.
    public func send(_ request: Request, unit: UInt8 = 1) async throws(ModbusError) -> Response {
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        // A write to a connection the server has closed never reaches the
        // handler (the pipeline is gone): its failure fails the request.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { promise.fail(ModbusError(.connection, "\($0)")) }
        channel.writeAndFlush(ModbusClientHandler.Outgoing(unit: unit, pdu: request.pdu, promise: promise), promise: written)
        let pdu: [UInt8]
        do {
            pdu = try await promise.futureResult.get()
        } catch let error as ModbusError {
            throw error
        } catch {
            throw ModbusError(.connection, "\(error)")
        }
        return try Response(pdu: pdu[...], for: request)
    }

    /// Like `send`, but a Modbus exception is thrown too.
    public func call(_ request: Request, unit: UInt8 = 1) async throws(ModbusError) -> Response {
        let response = try await send(request, unit: unit)
        if case .exception(let exception) = response { throw ModbusError.from(exception) }
        return response
    }

    /// Closes the connection; requests in flight fail.
    public func close() async {
        try? await channel.close()
    }
}

/// Numbers requests, keeps at most `depth` in flight, and hands each reply to its caller.
final class ModbusClientHandler: ChannelDuplexHandler {
    typealias InboundIn = MBAPFrame
    typealias OutboundIn = Outgoing
    typealias OutboundOut = MBAPFrame

    struct Outgoing {
        let unit: UInt8
        let pdu: [UInt8]
        let promise: EventLoopPromise<[UInt8]>
    }

    private struct InFlight {
        let promise: EventLoopPromise<[UInt8]>
        let timer: Scheduled<Void>
    }

    private let depth: Int
    private let timeout: TimeAmount
    private var nextTransaction: UInt16 = 0
    private var inFlight: [UInt16: InFlight] = [:]
    private var waiting = CircularBuffer<Outgoing>()
    /// The connection has closed: what is written now fails at once.
    private var closed = false

    init(depth: Int, timeout: TimeAmount) {
        self.depth = depth
        self.timeout = timeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let outgoing = unwrapOutboundIn(data)
        // A write can still reach the handler after the close, before the pipeline is taken down.
        guard !closed else {
            outgoing.promise.fail(ModbusError(.connection, "the server closed the connection"))
            promise?.succeed()
            return
        }
        waiting.append(outgoing)
        promise?.succeed()
        sendWaiting(context: context)
    }

    private func sendWaiting(context: ChannelHandlerContext) {
        var sent = false
        while inFlight.count < depth, let outgoing = waiting.popFirst() {
            nextTransaction &+= 1
            let transaction = nextTransaction
            let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                self.inFlight.removeValue(forKey: transaction)?.promise.fail(
                    ModbusError(.timeout, "no reply to transaction \(transaction) within \(self.timeout)"))
                self.sendWaiting(context: context)
            }
            inFlight[transaction] = InFlight(promise: outgoing.promise, timer: timer)
            context.write(wrapOutboundOut(MBAPFrame(transaction: transaction, unit: outgoing.unit, pdu: outgoing.pdu)), promise: nil)
            sent = true
        }
        if sent { context.flush() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        // A reply to nothing we sent (or one that came after its timeout) is dropped.
        guard let pending = inFlight.removeValue(forKey: frame.transaction) else { return }
        pending.timer.cancel()
        pending.promise.succeed(frame.pdu)
        sendWaiting(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        failAll(ModbusError(.connection, "the server closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(ModbusError(.connection, "\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: ModbusError) {
        for (_, pending) in inFlight {
            pending.timer.cancel()
            pending.promise.fail(error)
        }
        inFlight.removeAll()
        while let outgoing = waiting.popFirst() { outgoing.promise.fail(error) }
    }
}
