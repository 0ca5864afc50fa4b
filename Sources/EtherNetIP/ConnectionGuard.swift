import NIOCore
import Synchronization

/// The EtherNet/IP server's TCP clients, against a limit: at the limit a new
/// client closes the one that has sent nothing for longest, so that idle
/// connections (held by mistake or on purpose) cannot lock everyone out.
final class ConnectionRegistry: Sendable {
    private struct Client {
        var channel: any Channel
        var lastRead: ContinuousClock.Instant
        var received = 0
        var requests = 0
    }

    let limit: Int
    private let clients = Mutex<[ObjectIdentifier: Client]>([:])

    init(limit: Int) { self.limit = limit }

    /// Admits `channel`; the client closed to make room for it, if any.
    func admit(_ channel: any Channel) -> (any Channel)? {
        clients.withLock { clients in
            var evicted: (any Channel)?
            if clients.count >= limit, let idlest = clients.min(by: { $0.value.lastRead < $1.value.lastRead }) {
                clients[idlest.key] = nil
                evicted = idlest.value.channel
            }
            clients[ObjectIdentifier(channel)] = Client(channel: channel, lastRead: .now)
            return evicted
        }
    }

    /// The client sent `bytes`, finishing `messages` requests.
    func touch(_ channel: any Channel, bytes: Int = 0, messages: Int = 0) {
        clients.withLock { clients in
            guard let index = clients.index(forKey: ObjectIdentifier(channel)) else { return }
            clients.values[index].lastRead = .now  // one hash lookup per read
            clients.values[index].received += bytes
            clients.values[index].requests += messages
        }
    }

    var connections: [ClientConnection] {
        clients.withLock { clients in
            clients.map { key, client in
                ClientConnection(id: key, interface: client.channel.remoteAddress?.ipAddress ?? "?", port: client.channel.remoteAddress?.port ?? 0,
                                 received: client.received, requests: client.requests)
            }
        }
    }

    func channel(_ id: ObjectIdentifier) -> (any Channel)? { clients.withLock { $0[id]?.channel } }

    func remove(_ channel: any Channel) {
        _ = clients.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var all: [any Channel] { clients.withLock { $0.values.map(\.channel) } }
}

/// A client connected to the server, and what it has sent.
public struct ClientConnection: Sendable {
    let id: ObjectIdentifier
    public var interface: String
    public var port: Int
    /// Bytes received from it.
    public var received: Int
    /// Encapsulation messages received from it.
    public var requests: Int
    /// cpppo's name for it: "127_0_0_1_52591".
    public var key: String { interface.replacingOccurrences(of: ".", with: "_").replacingOccurrences(of: ":", with: "_") + "_\(port)" }
}

/// First in each connection's pipeline: it times the client. A client that
/// sends nothing for the idle timeout is closed; so is one that begins a
/// message and does not finish it within the frame timeout (slowloris). It
/// follows the encapsulation lengths only, leaving the decoding to the decoder.
final class ConnectionGuard: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let registry: ConnectionRegistry
    private let frameTimeout: TimeAmount
    /// Bytes still to come of the message begun, or nil between messages.
    private var owed: Int?
    /// The header bytes of a message begun, until its length is known.
    private var header: [UInt8] = []
    private var deadline: Scheduled<Void>?

    init(registry: ConnectionRegistry, frameTimeout: TimeAmount) {
        self.registry = registry
        self.frameTimeout = frameTimeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        let messages = follow(bytes.readableBytesView)
        registry.touch(context.channel, bytes: bytes.readableBytes, messages: messages)
        if owed == nil && header.isEmpty {
            deadline?.cancel()
            deadline = nil
        } else if deadline == nil {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: frameTimeout) { loopBound.value.close(promise: nil) }
        }
        context.fireChannelRead(data)
    }

    /// Follows message boundaries through `bytes`: a message is the 24-byte
    /// header and the length its bytes 2-3 give (little-endian). Returns the messages begun.
    private func follow(_ bytes: ByteBufferView) -> Int {
        var begun = 0
        var rest = bytes[...]
        while !rest.isEmpty {
            if let remaining = owed {
                let taken = min(remaining, rest.count)
                rest = rest.dropFirst(taken)
                owed = remaining == taken ? nil : remaining - taken
                continue
            }
            let taken = min(Encapsulation.headerLength - header.count, rest.count)
            header += rest.prefix(taken)
            rest = rest.dropFirst(taken)
            if header.count == Encapsulation.headerLength {
                let length = Int(header[2]) | Int(header[3]) << 8
                header = []
                owed = length > 0 ? length : nil
                begun += 1
            }
        }
        return begun
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        registry.remove(context.channel)
        context.fireChannelInactive()
    }
}
