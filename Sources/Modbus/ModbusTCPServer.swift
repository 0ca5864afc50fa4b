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
                             accepts: (@Sendable (SocketAddress?) -> Bool)? = nil,
                             logger: Logger = Logger(label: "fieldgw.modbus.tcp")) async throws -> ModbusTCPServer {
        let serving: any ModbusServing = faults.isEmpty ? serving : DelayedServing(base: serving, faults: faults)
        let connections = ConnectionCounter(limit: connectionLimit)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let accepts, !accepts(channel.remoteAddress) {
                        logger.notice("refused Modbus/TCP connection from \(channel.remoteAddress?.description ?? "?"): not in the allow list")
                        throw ConnectionCounter.NotAllowed()
                    }
                    guard connections.open() else { throw ConnectionCounter.Full() }
                    channel.closeFuture.whenComplete { _ in connections.close() }
                    try channel.pipeline.syncOperations.addHandler(ModbusServerHandler(serving: serving, faults: faults, logger: logger))
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
/// takes: a reply that must wait (for a serial line) holds back those after
/// it in a queue until it is written. Replies known at once go straight out
/// while nothing waits.
///
/// It takes bytes and splits them with `MBAPDecoder.frame(from:)` itself
/// rather than behind a `ByteToMessageHandler`: the extra pipeline stage and
/// its boxing of each frame cost a fifth of the server's requests per second
/// with 16 connections (measured in Benchmarks/modbus_bench.py).
final class ModbusServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Slot {
        let transaction: UInt16
        let unit: UInt8
        var done = false
        var reply: [UInt8]?
    }

    private let serving: any ModbusServing
    /// The simulator's `--evil`: each reply is damaged as it is encoded.
    private let faults: [ModbusFault]
    private let logger: Logger
    private var queue = CircularBuffer<Slot>()
    /// The sequence number of the queue's first slot.
    private var first = 0
    private var next = 0
    /// Inside a burst of reads: channelReadComplete flushes once for all of them.
    private var reading = false
    private var peer = "?"
    private let connection = ModbusConnection()
    /// The start of a frame whose end has not come yet.
    private var unread: ByteBuffer?
    /// Replies encoded and not yet written: a burst of pipelined requests is
    /// answered by one write down the pipeline.
    private var outgoing: ByteBuffer?

    init(serving: any ModbusServing, faults: [ModbusFault], logger: Logger) {
        self.serving = serving
        self.faults = faults
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.remoteAddress?.description ?? "?"
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.close()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        var bytes = unwrapInboundIn(data)
        if var partial = unread.take() {
            partial.writeBuffer(&bytes)
            bytes = partial
        }
        do {
            while let frame = try MBAPDecoder.frame(from: &bytes) { serve(frame, context: context) }
        } catch {
            return errorCaught(context: context, error: error)
        }
        if bytes.readableBytes > 0 { unread = bytes }
    }

    private func serve(_ frame: MBAPFrame, context: ChannelHandlerContext) {
        switch serving.serve(unit: frame.unit, pdu: frame.pdu, from: connection, on: context.eventLoop) {
        case .now(let reply) where queue.isEmpty:
            if let reply { encode(MBAPFrame(transaction: frame.transaction, unit: frame.unit, pdu: reply), context: context) }
        case .now(let reply):
            complete(enqueue(frame), reply: reply, context: context)
        case .later(let future):
            let sequence = enqueue(frame)
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                self.complete(sequence, reply: (try? result.get()) ?? nil, context: context)
            }
        }
    }

    /// A slot for `frame`'s reply; its sequence number.
    private func enqueue(_ frame: MBAPFrame) -> Int {
        queue.append(Slot(transaction: frame.transaction, unit: frame.unit))
        next += 1
        return next - 1
    }

    /// The replies to everything read go out in one write and flush.
    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if let buffer = outgoing.take() {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else {
            context.flush()
        }
    }

    private func complete(_ sequence: Int, reply: [UInt8]?, context: ChannelHandlerContext) {
        queue[offset: sequence - first].done = true
        queue[offset: sequence - first].reply = reply
        while let head = queue.first, head.done {
            queue.removeFirst()
            first += 1
            guard let pdu = head.reply else { continue }
            encode(MBAPFrame(transaction: head.transaction, unit: head.unit, pdu: pdu), context: context)
        }
        // Inside a burst of reads the replies go at its end; a later reply goes now.
        if !reading, let buffer = outgoing.take() {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
    }

    private func encode(_ frame: MBAPFrame, context: ChannelHandlerContext) {
        if outgoing == nil { outgoing = context.channel.allocator.buffer(capacity: 256) }
        guard !faults.isEmpty else { return MBAPEncoder.write(frame, to: &outgoing!) }
        var one = ByteBuffer()
        MBAPEncoder.write(frame, to: &one)
        outgoing!.writeBytes(faults.damageTCP(one.readBytes(length: one.readableBytes) ?? []))
    }


    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A client that resets its connection has only gone; a bad header is worth a notice.
        let level: Logger.Level = (error as? IOError)?.errnoCode == ECONNRESET ? .debug : .notice
        logger.log(level: level, "closing Modbus/TCP connection from \(peer): \(error)")
        context.close(promise: nil)
    }
}

/// Counts open connections against a limit.
final class ConnectionCounter: Sendable {
    struct Full: Error, CustomStringConvertible {
        var description: String { "connection limit reached" }
    }

    struct NotAllowed: Error, CustomStringConvertible {
        var description: String { "client not in the allow list" }
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
