import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A Modbus/TCP server: many connections, each with pipelined requests
/// answered in order and with their transaction ids. A connection that sends
/// a bad MBAP header is closed; the others go on.
public final class ModbusTCPServer: Sendable {
    public let channel: any Channel
    /// The port bound (useful when asked for port 0).
    public var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel) { self.channel = channel }

    /// Binds `host:port` and starts serving. `faults` make every reply
    /// misbehave (the simulator's `--evil`); a real server has none.
    public static func start(host: String, port: Int, serving: any ModbusServing, group: any EventLoopGroup,
                             connectionLimit: Int = 1024, faults: [ModbusFault] = [],
                             logger: Logger = Logger(label: "fieldgw.modbus.tcp")) async throws -> ModbusTCPServer {
        let serving: any ModbusServing = faults.isEmpty ? serving : DelayedServing(base: serving, faults: faults)
        let connections = ConnectionCounter(limit: connectionLimit)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard connections.open() else { throw ConnectionCounter.Full() }
                    channel.closeFuture.whenComplete { _ in connections.close() }
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ByteToMessageHandler(MBAPDecoder()))
                    if !faults.isEmpty { try pipeline.addHandler(ReplyDamager(faults: faults)) }
                    try pipeline.addHandlers([
                        MessageToByteHandler(MBAPEncoder()),
                        ModbusServerHandler(serving: serving, logger: logger),
                    ])
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return ModbusTCPServer(channel: channel)
    }

    public func close() async throws {
        try await channel.close()
    }
}

/// Answers one connection's frames in the order they came, however long each
/// takes: replies wait in a queue until those before them are written.
final class ModbusServerHandler: ChannelInboundHandler {
    typealias InboundIn = MBAPFrame
    typealias OutboundOut = MBAPFrame

    private struct Slot {
        let transaction: UInt16
        let unit: UInt8
        var done = false
        var reply: [UInt8]?
    }

    private let serving: any ModbusServing
    private let logger: Logger
    private var queue = CircularBuffer<Slot>()
    /// The sequence number of the queue's first slot.
    private var first = 0
    private var next = 0
    /// Inside a burst of reads: channelReadComplete flushes once for all of them.
    private var reading = false

    init(serving: any ModbusServing, logger: Logger) {
        self.serving = serving
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        let frame = unwrapInboundIn(data)
        let sequence = next
        next += 1
        queue.append(Slot(transaction: frame.transaction, unit: frame.unit))
        serving.serve(unit: frame.unit, pdu: frame.pdu, on: context.eventLoop)
            .hop(to: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                self.complete(sequence, reply: (try? result.get()) ?? nil, context: context)
            }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        context.flush()
    }

    private func complete(_ sequence: Int, reply: [UInt8]?, context: ChannelHandlerContext) {
        queue[offset: sequence - first].done = true
        queue[offset: sequence - first].reply = reply
        var wrote = false
        while let head = queue.first, head.done {
            queue.removeFirst()
            first += 1
            guard let pdu = head.reply else { continue }
            context.write(wrapOutboundOut(MBAPFrame(transaction: head.transaction, unit: head.unit, pdu: pdu)), promise: nil)
            wrote = true
        }
        if wrote && !reading { context.flush() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.notice("closing Modbus/TCP connection from \(context.remoteAddress?.description ?? "?"): \(error)")
        context.close(promise: nil)
    }
}

/// Counts open connections against a limit.
final class ConnectionCounter: Sendable {
    struct Full: Error, CustomStringConvertible {
        var description: String { "connection limit reached" }
    }

    private let count = Mutex(0)
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
}
