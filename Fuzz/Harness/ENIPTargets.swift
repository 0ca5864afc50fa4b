@testable import EtherNetIP
import NIOCore

/// EtherNet/IP decoders: what `enip-server` and the gateway read from a
/// client (encapsulation, CPF, CIP requests and paths, Multiple Service
/// Packets, Forward Open, Logix tag services) and what the client reads back.
enum ENIPTargets {
    /// The tags of `fieldgw enip-server` in the interop tests, one of each kind.
    static let router: MessageRouter = {
        var tags = TagTable()
        do {
            try tags.addStructure(definition: "Motor=Speed:REAL,Run:BOOL,Fault:BOOL,Counts:DINT[4],Name:STRING")
            for definition in ["SCADA=INT[1000]", "Temp=REAL", "Grid=DINT[4,8]", "Label=STRING", "Flags=BOOL[64]",
                               "Pump=Motor", "Pumps=Motor[3]", "Program:Main.Count=DINT", "Speed@0x93/3/10=REAL", "Big=LREAL[300]", "Wide@0x93/3/11=LREAL[100]"] {
                try tags.add(definition: definition)
            }
            try tags.add(definition: "Limit=DINT", readOnly: true)
        } catch {
            fatalError("the harness's tags: \(error)")
        }
        return MessageRouter(tags: tags)
    }()

    /// A client's byte stream, framed and answered as the server's connection
    /// does: every reply is a whole encapsulation message that decodes to itself.
    static func server(_ bytes: [UInt8]) {
        let session = EncapsulationSession(router: router, local: nil)
        defer { session.close() }
        var buffer = ByteBuffer(bytes: bytes)
        while let message = Encapsulation.message(from: &buffer) {
            switch session.handle(message) {
            case .reply(let reply):
                var out = ByteBuffer()
                reply.write(to: &out)
                require(reply.data.count <= Int(UInt16.max), "a reply of \(reply.data.count) bytes")
                let again = Encapsulation.message(from: &out)
                require(again?.data == reply.data && again?.command == message.command, "the reply does not decode to itself")
            case .later: fatalError("a reply that waits, with no tag source")
            case .none: continue
            case .close: return
            }
        }
    }

    /// SendRRData / SendUnitData data: what parses re-encodes to the same bytes.
    static func commonPacket(_ bytes: [UInt8]) {
        guard let packet = try? CommonPacket(parsing: bytes) else { return }
        require(packet.bytes == Array(bytes.prefix(packet.bytes.count)), "\(packet) does not re-encode to its bytes")
    }

    /// A CIP path: what parses encodes to a path that parses the same.
    static func path(_ bytes: [UInt8]) {
        guard let path = try? CIPPath(parsing: bytes[...]) else { return }
        require((try? CIPPath(parsing: path.bytes[...])) == path, "\(path) does not survive its own encoding")
    }

    /// A reply as the client reads it: what parses encodes to a reply that parses the same.
    static func reply(_ bytes: [UInt8]) {
        guard let reply = try? CIPReply(parsing: bytes[...]) else { return }
        require((try? CIPReply(parsing: reply.bytes[...])) == reply, "\(reply) does not survive its own encoding")
    }

    /// A Multiple Service Packet's body: its parts lie inside it, and repack to parts that unpack the same.
    static func multipleServicePacket(_ bytes: [UInt8]) {
        guard let parts = try? MultipleServicePacket.unpack(bytes[...]) else { return }
        for part in parts { require(part.startIndex >= 2 && part.endIndex <= bytes.count, "a part outside the packet") }
        let again = try? MultipleServicePacket.unpack(MultipleServicePacket.pack(parts.map(Array.init))[...])
        require(again.map { $0.map(Array.init) } == parts.map(Array.init), "the parts do not survive repacking")
    }

    /// Assemblies for Class 1 Forward Opens: input 100, output 150,
    /// configuration 151 (as the I/O tests'); inputs go to the discard port.
    static let exchange: IOExchange = {
        let set = AssemblySet([Assembly(instance: 100, role: .input, size: 4), Assembly(instance: 150, role: .output, size: 4),
                               Assembly(instance: 151, role: .configuration, size: 0)])
        do { return try IOExchange(assemblies: set, host: "127.0.0.1", port: 0, destinationPort: 9) } catch { fatalError("\(error)") }
    }()
    static let originator = try? SocketAddress(ipAddress: "127.0.0.1", port: 1)

    /// Forward Open or Large Forward Open data (as the first byte picks) on a
    /// fresh Connection Manager, Class 1 ones on the assemblies: a connection
    /// opened is found again by Forward Close; a refusal carries its triple.
    static func forwardOpen(_ bytes: [UInt8]) {
        guard let pick = bytes.first else { return }
        let manager = ConnectionManager(limit: 4)
        let service = pick & 1 == 0 ? ConnectionManager.forwardOpen : ConnectionManager.largeForwardOpen
        let path = CIPPath([.classID(6), .instance(1)])
        guard let opened = try? manager.open(CIPRequest(service: service, path: path, data: Array(bytes.dropFirst())), session: 1,
                                             peer: originator, io: exchange, identity: Identity()) else { return }
        guard opened.status == .success else {
            require(opened.data.count == 10 && opened.status.general == 0x01, "Forward Open refused with \(opened)")
            return
        }
        require(opened.data.count == 26 && manager.count + exchange.count == 1, "Forward Open answered \(opened)")
        let triple = Array(opened.data[8..<16])
        let closed = try? manager.close(CIPRequest(service: ConnectionManager.forwardClose, path: path, data: [0, 0] + triple), io: exchange)
        require(closed != nil && manager.count == 0 && exchange.count == 0, "the connection opened is not closed by its triple")
    }

    /// An O→T I/O datagram: what parses holds its connection id, sequence
    /// number and data, and a T→O packet of that data parses back the same.
    static func ioPacket(_ bytes: [UInt8]) {
        guard let packet = try? IOPacket(parsing: bytes[...]) else { return }
        let data = Array(packet.data.dropFirst(2))
        let again = IOPacket.bytes(connection: packet.connection, sequence: packet.sequence, count: 0, data: data)
        let parsed = try? IOPacket(parsing: again[...])
        require(parsed?.connection == packet.connection && parsed?.sequence == packet.sequence && parsed.map { Array($0.data.dropFirst(2)) } == data,
                "an I/O packet does not read back: \(bytes)")
    }

    /// A Message Router request (Logix tag services, attributes, Multiple
    /// Service Packets, Unconnected Send): every reply is the request's
    /// service (an Unconnected Send's is its embedded request's) and fits the
    /// unconnected limit.
    static func logixRequest(_ bytes: [UInt8]) {
        let reply = router.handle(bytes[...], limit: MessageRouter.unconnectedLimit, session: 1)
        let service = bytes.first ?? 0
        require(reply.service == service || service == ConnectionManager.unconnectedSend, "reply \(reply) to service \(service)")
        require(reply.bytes.count <= MessageRouter.unconnectedLimit, "a reply of \(reply.bytes.count) bytes")
    }
}
