import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// One MQTT connection to a broker on SwiftNIO: CONNECT and its CONNACK,
/// PUBLISH at QoS 0 and 1 (QoS 1 returns once the PUBACK is in), SUBSCRIBE,
/// messages from the broker as an `AsyncStream` (QoS 1 ones acknowledged),
/// and keepalive (PINGREQ when the connection has been quiet for half the
/// keepalive; a broker silent for a whole one more is gone). A packet that
/// breaks the protocol closes the connection with an `MQTTError` that says
/// why (`closeReason`); whatever waited on it fails with that error.
public final class MQTTConnection: Sendable {
    /// TLS to the broker: the CA that signed its certificate, and
    /// optionally the client's own certificate and key (all PEM files).
    public struct TLS: Sendable, Hashable {
        public var caFile: String
        public var certificateFile: String?
        public var keyFile: String?
        /// The name the broker's certificate must carry (default: the host connected to).
        public var serverName: String?

        public init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.serverName = serverName
        }

        /// The NIOSSL context these files make; a file that cannot be read or parsed is named.
        public func context() throws -> NIOSSLContext {
            var configuration = TLSConfiguration.makeClientConfiguration()
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                if let certificateFile, let keyFile {
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
                }
                return try NIOSSLContext(configuration: configuration)
            } catch {
                throw MQTTError("TLS files (\([caFile, certificateFile, keyFile].compactMap { $0 }.joined(separator: ", "))): \(error)")
            }
        }
    }

    public struct Options: Sendable {
        public var host: String
        public var port: Int
        public var connect: Connect
        public var connectTimeout: Duration
        /// The largest packet taken from the broker.
        public var maximumPacketSize: Int
        public var tls: TLS?

        public init(host: String, port: Int = 1883, connect: Connect, connectTimeout: Duration = .seconds(5),
                    maximumPacketSize: Int = 1 << 20) {
            self.host = host
            self.port = port
            self.connect = connect
            self.connectTimeout = connectTimeout
            self.maximumPacketSize = maximumPacketSize
        }
    }

    public let connack: ConnAck
    /// PUBLISH packets from the broker, in order; it ends when the connection closes.
    public let messages: AsyncStream<Publish>
    private let channel: any Channel
    /// Messages `published` (and `confirm`'s PINGREQs) not yet handed to the event loop.
    private let outbound = Mutex(CircularBuffer<(MQTTPacket, EventLoopPromise<Void>)>())
    private let handler: NIOLoopBound<MQTTClientHandler>

    private init(channel: any Channel, handler: NIOLoopBound<MQTTClientHandler>, connack: ConnAck, messages: AsyncStream<Publish>) {
        self.channel = channel
        self.handler = handler
        self.connack = connack
        self.messages = messages
    }

    /// Connects, sends CONNECT and waits for the CONNACK; a refusal is thrown with its code.
    public static func connect(_ options: Options, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> MQTTConnection {
        let (messages, continuation) = AsyncStream.makeStream(of: Publish.self)
        let nanoseconds = options.connectTimeout.components.seconds * 1_000_000_000 + options.connectTimeout.components.attoseconds / 1_000_000_000
        let tls = try options.tls.map { try $0.context() }
        let serverName = options.tls?.serverName ?? options.host
        // The handler is kept as it is made, not looked up afterwards: a
        // channel that closed at once has no pipeline to look in.
        // By channel: NIO may try several addresses of a host, each with a channel and a handler of its own.
        let made = Mutex<[ObjectIdentifier: (handler: NIOLoopBound<MQTTClientHandler>, connack: EventLoopFuture<MQTTPacket>)]>([:])
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.nanoseconds(nanoseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    let connack = channel.eventLoop.makePromise(of: MQTTPacket.self)
                    let handler = MQTTClientHandler(options: options, messages: continuation, connack: connack)
                    do {
                        try channel.pipeline.syncOperations.addHandler(handler)
                    } catch {
                        connack.fail(error)
                        throw error
                    }
                    made.withLock { $0[ObjectIdentifier(channel)] = (NIOLoopBound(handler, eventLoop: channel.eventLoop), connack.futureResult) }
                }
            }
        // A numeric address skips NIO's resolver, whose getaddrinfo waits on a Dispatch
        // queue that a busy process can hold up past the connect timeout.
        let numeric = try? SocketAddress(ipAddress: options.host, port: options.port)
        let channel = try await (numeric.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: options.host, port: options.port)).get()
        guard let (handler, connack) = made.withLock({ $0[ObjectIdentifier(channel)] }) else {
            throw MQTTError("the connection to \(options.host):\(options.port) had no MQTT handler")
        }
        let reply: MQTTPacket
        do {
            reply = try await connack.get()
        } catch {
            try? await channel.close()
            throw error
        }
        guard case .connack(let connack) = reply, connack.code == 0 else {
            try? await channel.close()
            throw MQTTError("the broker refused the connection: \(Self.describe(reply, version: options.connect.version))")
        }
        return MQTTConnection(channel: channel, handler: handler, connack: connack, messages: messages)
    }

    /// Publishes; at QoS 1 returns when the broker has acknowledged it (a 5.0 reason code ≥ 0x80 is thrown).
    public func publish(_ publish: Publish) async throws {
        try await published(publish).get()
    }

    /// Writes `publish` soon (messages go out in the order of these calls);
    /// the future completes when it is written (QoS 0) or acknowledged (QoS 1).
    /// Messages published together from outside the event loop go to it as
    /// one batch, with one flush; nothing here attaches a callback to a
    /// future from outside the loop (each such callback would be a hop).
    public func published(_ publish: Publish) -> EventLoopFuture<Void> {
        queue(.publish(publish))
    }

    /// Completes once the broker has answered a PINGREQ sent after every
    /// message published before this call: proof that it has them all
    /// (it reads a connection in order), which QoS 0 alone never gives.
    public func confirm() -> EventLoopFuture<Void> {
        queue(.pingreq)
    }

    private func queue(_ packet: MQTTPacket) -> EventLoopFuture<Void> {
        let done = channel.eventLoop.makePromise(of: Void.self)
        let first = outbound.withLock { queued in
            queued.append((packet, done))
            return queued.count == 1
        }
        if first { channel.eventLoop.execute { self.drain() } }
        return done.futureResult
    }

    /// The event loop of the connection: its futures complete there.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// On the event loop: what `published` queued, encoded into one buffer,
    /// one write, one flush (see `MQTTClientHandler.send`), at most
    /// `drainLimit` messages a turn. A larger batch takes turns with the
    /// loop's other work: 70,000 messages at once held a debug build's loop
    /// (shared with servers' delayed replies and other connections) for 2 s.
    private func drain() {
        let (batch, more) = outbound.withLock { queued in
            // The whole queue when it fits, taken as it is: the lock is held
            // for no copy while the publishing thread waits on it.
            guard queued.count > Self.drainLimit else {
                defer { queued = CircularBuffer() }
                return (queued, false)
            }
            let batch = CircularBuffer(queued.prefix(Self.drainLimit))
            queued.removeFirst(batch.count)  // a ring buffer: what is left does not move
            return (batch, true)
        }
        handler.value.send(batch)
        if more { channel.eventLoop.execute { self.drain() } }
    }

    static let drainLimit = 1024

    /// Messages queued and not yet taken by the event loop.
    var queuedCount: Int { outbound.withLock { $0.count } }

    /// Subscribes; the codes the broker granted, one per subscription (QoS, or ≥ 0x80 refused).
    public func subscribe(_ subscriptions: [Subscription]) async throws -> [UInt8] {
        let reply: MQTTPacket
        do {
            reply = try await Self.send(.subscribe(Subscribe(packetID: 1, subscriptions: subscriptions)), awaiting: true, on: channel).get()
        } catch {
            // A broker that broke the protocol right after CONNACK: its fault, not "I/O on closed channel".
            throw await closeReason ?? error
        }
        guard case .suback(let ack) = reply else { throw MQTTError("a SUBSCRIBE answered with something else than SUBACK") }
        return ack.codes
    }

    /// Sends DISCONNECT (the broker then drops the will) and closes.
    public func disconnect() async {
        _ = try? await Self.send(.disconnect(ReasonPacket()), awaiting: false, on: channel).get()
        try? await channel.close()
    }

    /// Closes without DISCONNECT: the broker publishes the will, as for a connection lost.
    public func drop() async {
        try? await channel.close()
    }

    /// Why the connection closed (nil while open, or when we closed it).
    public var closeReason: MQTTError? {
        get async { try? await channel.eventLoop.submit { self.handler.value.closeReason }.get() }
    }

    /// Completes when the connection has closed, for whatever reason.
    public var closed: EventLoopFuture<Void> { channel.closeFuture }

    private static func send(_ packet: MQTTPacket, awaiting: Bool, on channel: any Channel) -> EventLoopFuture<MQTTPacket> {
        let promise = channel.eventLoop.makePromise(of: MQTTPacket.self)
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { result in
            switch result {
            case .success: if !awaiting { promise.succeed(packet) }
            case .failure(let error): promise.fail(error)
            }
        }
        channel.writeAndFlush(MQTTClientHandler.Outgoing(packet: packet, reply: awaiting ? promise : nil), promise: written)
        return promise.futureResult
    }

    static func describe(_ packet: MQTTPacket, version: MQTTVersion) -> String {
        guard case .connack(let connack) = packet else { return "\(packet)" }
        if version == .v5 { return "reason code 0x\(String(connack.code, radix: 16))" }
        let reasons = [1: "unacceptable protocol version", 2: "identifier rejected", 3: "server unavailable", 4: "bad user name or password",
                       5: "not authorized"]
        return "return code \(connack.code) (\(reasons[Int(connack.code)] ?? "unknown"))"
    }
}
