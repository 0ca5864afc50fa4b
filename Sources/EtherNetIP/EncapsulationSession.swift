import NIOCore
import Synchronization

/// One TCP client's encapsulation session: RegisterSession first, then
/// unconnected (SendRRData) and connected (SendUnitData) CIP through the
/// Message Router. Returns the reply to each message, if any.
final class EncapsulationSession {
    enum Outcome {
        case reply(Encapsulation)
        /// A reply that waits for a device (a write through a serial line).
        case later(EventLoopFuture<Encapsulation>)
        case none
        case close
    }

    private let router: MessageRouter
    private let local: SocketAddress?
    /// The client's address: where a Class 1 connection's T→O packets go.
    private let peer: SocketAddress?
    /// Where replies that wait are completed: the connection's loop.
    private let eventLoop: (any EventLoop)?
    private(set) var handle: UInt32 = 0
    private static let nextHandle = Atomic<UInt32>(0x0001_0001)

    init(router: MessageRouter, local: SocketAddress?, peer: SocketAddress? = nil, eventLoop: (any EventLoop)? = nil) {
        self.router = router
        self.local = local
        self.peer = peer
        self.eventLoop = eventLoop
    }

    func handle(_ message: Encapsulation) -> Outcome {
        switch message.command {
        case EncapsulationCommand.registerSession: return register(message)
        case EncapsulationCommand.unregisterSession: return .close
        case EncapsulationCommand.listIdentity:
            return .reply(message.reply(data: CommonPacket.itemBytes([router.identity.listIdentityItem(address: local)])))
        case EncapsulationCommand.listServices: return .reply(message.reply(data: CommonPacket.itemBytes([Self.communications])))
        case EncapsulationCommand.listInterfaces: return .reply(message.reply(data: [0, 0]))
        case EncapsulationCommand.nop: return .none
        case EncapsulationCommand.sendRRData, EncapsulationCommand.sendUnitData:
            guard handle != 0, message.session == handle else { return .reply(message.reply(status: EncapsulationStatus.invalidSession)) }
            do {
                let packet = try CommonPacket(parsing: message.data)
                let items = try message.command == EncapsulationCommand.sendRRData ? unconnected(packet) : connected(packet)
                let reply = items.map { items in
                    message.reply(data: CommonPacket(interface: packet.interface, timeout: packet.timeout, items: items).bytes)
                }
                switch reply {
                case .now(let reply): return .reply(reply)
                case .later(let reply): return .later(reply)
                }
            } catch {
                return .reply(message.reply(status: EncapsulationStatus.incorrectData))
            }
        default:
            return .reply(message.reply(status: EncapsulationStatus.invalidCommand))
        }
    }

    func close() {
        guard handle != 0 else { return }
        router.connections.closeAll(session: handle)
        router.metrics?.sessions.decrement()
        router.metrics?.connections.record(router.connections.count)
    }

    /// Any sender context is accepted and echoed (pycomm3 and pylogix send one).
    private func register(_ message: Encapsulation) -> Outcome {
        guard message.data.count == 4 else { return .reply(message.reply(status: EncapsulationStatus.invalidLength)) }
        guard message.data[0] == 1, message.data[1] == 0 else {
            return .reply(message.reply(status: EncapsulationStatus.unsupportedProtocol, data: [1, 0, 0, 0]))
        }
        guard handle == 0 else { return .reply(message.reply(status: EncapsulationStatus.incorrectData, data: message.data)) }
        handle = Self.nextHandle.wrappingAdd(1, ordering: .relaxed).oldValue
        router.metrics?.sessions.increment()
        return .reply(message.reply(session: handle, data: message.data))
    }

    private func unconnected(_ packet: CommonPacket) throws(CIPStatus) -> Answer<[CommonPacket.Item]> {
        guard let item = packet.items.first(where: { $0.type == CommonPacket.unconnectedData }) else { throw .notEnoughData }
        let answer = router.answer(item.data[...], limit: MessageRouter.unconnectedLimit, session: handle, peer: peer, on: eventLoop)
        // Forward Open and Close come unconnected: the count can only change here.
        router.metrics?.connections.record(router.connections.count)
        return answer.map { reply in
            [CommonPacket.Item(type: CommonPacket.nullAddress, data: []), CommonPacket.Item(type: CommonPacket.unconnectedData, data: reply.bytes)]
                + reply.items
        }
    }

    /// The request carries our connection id; the reply carries the client's
    /// and echoes the sequence number.
    private func connected(_ packet: CommonPacket) throws(CIPStatus) -> Answer<[CommonPacket.Item]> {
        guard packet.items.count == 2, packet.items[0].type == CommonPacket.connectedAddress, packet.items[0].data.count == 4,
              packet.items[1].type == CommonPacket.connectedData, packet.items[1].data.count >= 2 else { throw .notEnoughData }
        var reader = WireReader(packet.items[0].data)
        guard let connection = router.connections.use(try reader.u32(), session: handle) else { throw .pathDestinationUnknown }
        let data = packet.items[1].data
        let answer = router.answer(data[2...], limit: connection.size - 2, session: handle, peer: peer, on: eventLoop)
        var address: [UInt8] = []
        address.append32(connection.clientID)
        let sequence = Array(data[0..<2])
        return answer.map { [address] reply in
            [CommonPacket.Item(type: CommonPacket.connectedAddress, data: address),
             CommonPacket.Item(type: CommonPacket.connectedData, data: sequence + reply.bytes)]
        }
    }

    /// ListServices' one service: CIP over TCP and UDP.
    static let communications = CommonPacket.Item(
        type: CommonPacket.services, data: [1, 0, 0x20, 0x01] + Array("Communications".utf8) + [0, 0])
}
