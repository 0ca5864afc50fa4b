import NIOCore
import NIOPosix
import Synchronization

/// An EtherNet/IP client for Logix controllers (and our server, and cpppo's):
/// a registered session, unconnected messages through Unconnected Send (to
/// backplane slot 0; sent as they are to a target that does not route, as
/// libplctag's ab_server and a Micro800), or a Forward Open connection
/// (Large, falling back to the ordinary one) for connected messages.
/// Requests may be sent from many tasks at once: they are pipelined on the
/// one TCP connection and their replies matched in order.
public final class ENIPClient: Sendable {
    /// A session, connection or reply the client cannot go on with: a refusal, a
    /// malformed reply, no reply in time, or the connection closed.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public let description: String
    }

    private struct Connection: Sendable {
        let serverID: UInt32
        let clientID: UInt32
        let serial: UInt16
        let size: Int
    }

    private let channel: any Channel
    private let session: UInt32
    private let timeout: TimeAmount
    private let connection = Mutex<Connection?>(nil)
    private let sequence = Atomic<UInt16>(1)
    /// Cleared once the target refuses Unconnected Send itself (0xD2, status
    /// 0x08): it takes requests as they are, with no route.
    private let routes = Atomic(true)
    /// The route an unconnected request is sent along: port 1 (backplane), slot 0.
    static let route: [CIPPath.Segment] = [.port(1, link: [0])]

    private init(channel: any Channel, session: UInt32, timeout: TimeAmount) {
        self.channel = channel
        self.session = session
        self.timeout = timeout
    }

    /// Connects and registers a session.
    public static func connect(host: String, port: Int = 44818, group: any EventLoopGroup,
                               timeout: Duration = .seconds(5)) async throws -> ENIPClient {
        let amount = timeout.timeAmount
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(amount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(EncapsulationDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ClientReplies(timeout: amount))
                }
            }
        // A numeric address skips NIO's resolver, whose getaddrinfo waits on a Dispatch
        // queue that a busy process can hold up past the connect timeout.
        let numeric = try? SocketAddress(ipAddress: host, port: port)
        let channel = try await (numeric.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: host, port: port)).get()
        // A zero sender context, as pylogix and controllers' own tools send:
        // libplctag's ab_server refuses any other (status 1).
        let register = Encapsulation(command: EncapsulationCommand.registerSession, data: [1, 0, 0, 0])
        let reply = try await exchange(register, on: channel)
        guard reply.status == 0, reply.session != 0 else {
            try? await channel.close()
            throw Failure(description: "RegisterSession refused: status 0x\(String(reply.status, radix: 16))")
        }
        return ENIPClient(channel: channel, session: reply.session, timeout: amount)
    }

    private static func exchange(_ message: Encapsulation, on channel: any Channel) async throws -> Encapsulation {
        try await submit(message, on: channel).get()
    }

    /// Writes `message` now (messages go out in the order submitted) and
    /// returns its reply's future.
    private static func submit(_ message: Encapsulation, on channel: any Channel) -> EventLoopFuture<Encapsulation> {
        let promise = channel.eventLoop.makePromise(of: Encapsulation.self)
        // A write to a connection the target has closed never reaches
        // ClientReplies (the pipeline is gone): its failure fails the reply.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { promise.fail($0) }
        channel.writeAndFlush(ClientReplies.Pending(message: message, promise: promise), promise: written)
        return promise.futureResult
    }

    /// The most bytes a reply may hold: the connection's size, or an unconnected message's.
    public var replyLimit: Int { connection.withLock { $0.map { $0.size - 2 } } ?? MessageRouter.unconnectedLimit }

    /// Opens a connection (Large Forward Open; Forward Open if the target
    /// does not know it): later requests go connected.
    public func forwardOpen() async throws {
        let clientID = UInt32.random(in: 1...UInt32.max)
        let serial = UInt16.random(in: 1...UInt16.max)
        for (service, size) in [(ConnectionManager.largeForwardOpen, 4002), (ConnectionManager.forwardOpen, 504)] {
            let reply = try await unconnected(CIPRequest(service: service, path: CIPPath([.classID(6), .instance(1)]),
                                                         data: Self.forwardOpenData(service: service, size: size, clientID: clientID, serial: serial))).get()
            if reply.status == .serviceNotSupported && service == ConnectionManager.largeForwardOpen { continue }
            guard reply.status == .success else { throw Failure(description: "Forward Open refused: \(reply.status)") }
            var reader = WireReader(reply.data)
            let serverID = try reader.u32()
            connection.withLock { $0 = Connection(serverID: serverID, clientID: clientID, serial: serial, size: size) }
            return
        }
    }

    /// Our connection's identity: its serial, our vendor and originator serial.
    private static func triple(_ serial: UInt16) -> ConnectionManager.Triple {
        ConnectionManager.Triple(serial: serial, vendor: 0x1337, originator: 0x00F1_E1D0)
    }

    private static func forwardOpenData(service: UInt8, size: Int, clientID: UInt32, serial: UInt16) -> [UInt8] {
        var data: [UInt8] = [0x0A, 0x0E]
        data.append32(0)
        data.append32(clientID)
        data += triple(serial).bytes
        data += [3, 0, 0, 0]
        for _ in 0..<2 {
            data.append32(2_000_000)
            if service == ConnectionManager.largeForwardOpen { data.append32(0x4200_0000 | UInt32(size)) } else { data.append16(0x4200 | UInt16(size)) }
        }
        let path = CIPPath(route + [.classID(2), .instance(1)]).bytes
        return data + [0xA3, UInt8(path.count / 2)] + path
    }

    /// One request; connected when a connection is open.
    public func send(_ request: CIPRequest) async throws -> CIPReply {
        try await submit(request).get()
    }

    /// Sends `request` at once, so that requests submitted one after another
    /// go out in that order however many are in flight; the reply's future.
    public func submit(_ request: CIPRequest) -> EventLoopFuture<CIPReply> {
        guard let open = connection.withLock({ $0 }) else { return routed(request) }
        let number = sequence.wrappingAdd(1, ordering: .relaxed).oldValue
        var address: [UInt8] = []
        address.append32(open.serverID)
        var data: [UInt8] = []
        data.append16(number)
        let packet = CommonPacket(items: [.init(type: CommonPacket.connectedAddress, data: address),
                                          .init(type: CommonPacket.connectedData, data: data + request.bytes)])
        return encapsulatedData(EncapsulationCommand.sendUnitData, packet).flatMapThrowing { [data] reply in
            if let shifted = Self.headerlessReply(reply) { return try CIPReply(parsing: shifted) }
            let items = try CommonPacket(parsing: reply).items
            guard items.count == 2, items[1].data.count >= 2, Array(items[1].data.prefix(2)) == data else {
                throw Failure(description: "connected reply without our sequence number")
            }
            return try CIPReply(parsing: items[1].data.dropFirst(2))
        }
    }

    /// libplctag's ab_server answers SendUnitData with its items written six
    /// bytes early (no interface handle or timeout, a stale sequence number)
    /// but the CIP reply where it belongs, 22 bytes in, where libplctag and
    /// pylogix read it: that reply, or nil for a well-formed packet.
    static func headerlessReply(_ data: [UInt8]) -> ArraySlice<UInt8>? {
        guard data.count > 22, data[0..<4] == [2, 0, 0xA1, 0], data[10..<12] == [0xB1, 0] else { return nil }
        return data[22...]
    }

    /// `request` through Unconnected Send, or as it is to a target that does
    /// not route (it refuses Unconnected Send itself with 0x08, once).
    private func routed(_ request: CIPRequest) -> EventLoopFuture<CIPReply> {
        guard routes.load(ordering: .relaxed) else { return unconnected(request) }
        return unconnected(Self.unconnectedSend(request)).flatMap { [self] reply in
            guard reply.service == ConnectionManager.unconnectedSend && reply.status == .serviceNotSupported else {
                return channel.eventLoop.makeSucceededFuture(reply)
            }
            routes.store(false, ordering: .relaxed)
            return unconnected(request)
        }
    }

    /// A request sent as it is, unconnected (Forward Open, or a request already wrapped).
    private func unconnected(_ request: CIPRequest) -> EventLoopFuture<CIPReply> {
        let packet = CommonPacket(items: [.init(type: CommonPacket.nullAddress, data: []), .init(type: CommonPacket.unconnectedData, data: request.bytes)])
        return encapsulated(EncapsulationCommand.sendRRData, packet).flatMapThrowing { reply in
            guard let index = reply.items.firstIndex(where: { $0.type == CommonPacket.unconnectedData }) else {
                throw Failure(description: "reply without data")
            }
            // Items after the data (a Class 1 Forward Open's socket addresses) go with the reply.
            var parsed = try CIPReply(parsing: reply.items[index].data[...])
            parsed.items = Array(reply.items[(index + 1)...])
            return parsed
        }
    }

    static func unconnectedSend(_ request: CIPRequest) -> CIPRequest {
        let embedded = request.bytes
        var data: [UInt8] = [0x0A, 0x0E]
        data.append16(UInt16(embedded.count))
        data += embedded
        if embedded.count % 2 == 1 { data.append(0) }
        let route = CIPPath(route).bytes
        data += [UInt8(route.count / 2), 0] + route
        return CIPRequest(service: ConnectionManager.unconnectedSend, path: CIPPath([.classID(6), .instance(1)]), data: data)
    }

    private func encapsulated(_ command: UInt16, _ packet: CommonPacket) -> EventLoopFuture<CommonPacket> {
        encapsulatedData(command, packet).flatMapThrowing { try CommonPacket(parsing: $0) }
    }

    /// The reply's encapsulated data, unparsed.
    private func encapsulatedData(_ command: UInt16, _ packet: CommonPacket) -> EventLoopFuture<[UInt8]> {
        Self.submit(Encapsulation(command: command, session: session, data: packet.bytes), on: channel).flatMapThrowing { reply in
            guard reply.status == 0 else { throw Failure(description: "encapsulation status 0x\(String(reply.status, radix: 16))") }
            return reply.data
        }
    }

    /// Closes the connection (Forward Close) and the session.
    public func close() async {
        if let open = connection.withLock({ state in defer { state = nil }; return state }) {
            var data: [UInt8] = [0x0A, 0x0E] + Self.triple(open.serial).bytes
            let path = CIPPath(Self.route + [.classID(2), .instance(1)]).bytes
            data += [UInt8(path.count / 2), 0] + path
            _ = try? await unconnected(CIPRequest(service: ConnectionManager.forwardClose, path: CIPPath([.classID(6), .instance(1)]), data: data)).get()
        }
        channel.writeAndFlush(ClientReplies.Pending(message: Encapsulation(command: EncapsulationCommand.unregisterSession, session: session), promise: nil), promise: nil)
        try? await channel.close()
    }
}

/// Matches replies to requests in the order they were written (a target
/// answers one TCP connection in order); a reply late past the timeout
/// fails every request waiting and closes the connection, whose order can
/// no longer be trusted.
final class ClientReplies: ChannelDuplexHandler {
    struct Pending {
        let message: Encapsulation
        let promise: EventLoopPromise<Encapsulation>?
    }

    typealias InboundIn = Encapsulation
    typealias OutboundIn = Pending
    typealias OutboundOut = ByteBuffer

    private var waiting = CircularBuffer<(promise: EventLoopPromise<Encapsulation>, deadline: Scheduled<Void>)>()
    private let timeout: TimeAmount
    /// The connection has closed: what is written now fails at once.
    private var closed = false

    init(timeout: TimeAmount) { self.timeout = timeout }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let pending = unwrapOutboundIn(data)
        // A write can still reach the handler after the close, before the pipeline is taken down.
        guard !closed else {
            pending.promise?.fail(ENIPClient.Failure(description: "connection closed"))
            promise?.succeed()
            return
        }
        if let reply = pending.promise {
            let deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                fail(ENIPClient.Failure(description: "no reply within \(timeout.nanoseconds / 1_000_000) ms"), context: context)
            }
            waiting.append((reply, deadline))
        }
        var buffer = context.channel.allocator.buffer(capacity: Encapsulation.headerLength + pending.message.data.count)
        pending.message.write(to: &buffer)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let head = waiting.popFirst() else { return }
        head.deadline.cancel()
        head.promise.succeed(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        fail(ENIPClient.Failure(description: "connection closed"), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, context: context)
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        while let head = waiting.popFirst() {
            head.deadline.cancel()
            head.promise.fail(error)
        }
        context.close(promise: nil)
    }
}
