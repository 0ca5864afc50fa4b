import NIOCore
import NIOPosix
import Synchronization

/// A tag as the Symbol class lists it.
public struct ListedTag: Sendable, Hashable {
    /// The Symbol instance: an address for the tag, and where the listing goes on.
    public let instance: UInt32
    /// The tag's name; a program that holds tags of its own is listed as
    /// `Program:NAME`.
    public let name: String
    /// Attribute 2: atomic code or 0x8000 | template, dimension count in bits 13–14.
    public let symbolType: UInt16
    /// Attribute 8: three dimension sizes, of which the type's dimension count are used.
    public let dimensions: [Int]

    /// INT[1000], Motor, DINT[4,8], or a template number for a structure.
    public var typeDescription: String {
        let base = symbolType & 0x8000 != 0 ? "structure 0x\(String(symbolType & 0x0FFF, radix: 16))"
            : CIPType(rawValue: symbolType & 0x00FF)?.name ?? "type 0x\(String(symbolType & 0xFF, radix: 16))"
        let used = dimensions.prefix(Int(symbolType >> 13 & 3))
        return used.isEmpty ? base : base + "[" + used.map(String.init).joined(separator: ",") + "]"
    }
}

/// A device that answered ListIdentity.
public struct DiscoveredDevice: Sendable, Hashable, CustomStringConvertible {
    /// The device's IPv4 address, from the identity item (not the datagram's sender).
    public let address: String
    /// The CIP vendor id (1: Rockwell Automation).
    public let vendor: UInt16
    /// The vendor's product code.
    public let productCode: UInt16
    /// The revision, major.minor.
    public let revision: String
    /// The device's serial number.
    public let serial: UInt32
    /// The product name ("1756-L61/B LOGIX5561").
    public let productName: String

    /// One line: address, product, revision, vendor, product code, serial in hex.
    public var description: String {
        "\(address)  \(productName)  revision \(revision)  vendor \(vendor)  product \(productCode)  serial \(String(serial, radix: 16))"
    }

    /// From ListIdentity's item 0x0C.
    init?(item data: [UInt8]) {
        var reader = WireReader(data)
        guard (try? reader.skip(6)) != nil, let ip = try? reader.take(4) else { return nil }
        address = ip.map { String($0) }.joined(separator: ".")
        guard (try? reader.skip(8)) != nil, let vendor = try? reader.u16(), (try? reader.u16()) != nil,
              let product = try? reader.u16(), let major = try? reader.u8(), let minor = try? reader.u8(),
              (try? reader.u16()) != nil, let serial = try? reader.u32(), let length = try? reader.u8(),
              let name = try? reader.take(Int(length)) else { return nil }
        self.vendor = vendor
        productCode = product
        revision = "\(major).\(minor)"
        self.serial = serial
        productName = String(decoding: name, as: UTF8.self)
    }
}

extension ENIPClient {
    /// Every controller-scope tag, by Get Instance Attribute List (0x55)
    /// from instance 0 on, for as long as the target answers 0x06 (more).
    public func listTags() async throws -> [ListedTag] {
        var tags: [ListedTag] = []
        var start: UInt32 = 0
        while true {
            var data: [UInt8] = [3, 0]
            for attribute: UInt16 in [1, 2, 8] { data.append16(attribute) }
            let reply = try await send(CIPRequest(service: MessageRouter.getInstanceAttributeList,
                                                  path: CIPPath([.classID(0x6B), .instance(start)]), data: data))
            guard reply.status == .success || reply.status == .partialTransfer else { throw Failure(description: "tag list: \(reply.status)") }
            var reader = WireReader(reply.data)
            while reader.remaining > 0 {
                let instance = try reader.u32()
                let name = String(decoding: try reader.take(Int(try reader.u16())), as: UTF8.self)
                let type = try reader.u16()
                let dimensions = [Int(try reader.u32()), Int(try reader.u32()), Int(try reader.u32())]
                tags.append(ListedTag(instance: instance, name: name, symbolType: type, dimensions: dimensions))
                start = instance + 1
            }
            if reply.status == .success || reply.data.isEmpty { return tags }
        }
    }

    /// Broadcasts ListIdentity (or sends it to `host`) on UDP `port` and
    /// gathers the answers for `wait`.
    public static func discover(host: String = "255.255.255.255", port: Int = 44818, wait: Duration = .seconds(1),
                                group: any EventLoopGroup) async throws -> [DiscoveredDevice] {
        let found = IdentityCollector.Found()
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_broadcast), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(IdentityCollector(found: found)) }
            }
            .bind(host: "0.0.0.0", port: 0).get()
        var request = ByteBuffer()
        Encapsulation(command: EncapsulationCommand.listIdentity, context: Array("fieldgw\0".utf8)).write(to: &request)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: try SocketAddress(ipAddress: host, port: port), data: request))
        try await Task.sleep(for: wait)
        try await channel.close()
        return Array(Set(found.devices.withLock { $0 })).sorted { $0.address < $1.address }
    }
}

/// Keeps every ListIdentity reply's identity item.
final class IdentityCollector: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    final class Found: Sendable {
        let devices = Mutex<[DiscoveredDevice]>([])
    }

    private let found: Found

    init(found: Found) { self.found = found }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data).data
        guard let reply = Encapsulation.message(from: &bytes), reply.command == EncapsulationCommand.listIdentity,
              var reader = Optional(WireReader(reply.data)), let items = try? CommonPacket.items(&reader) else { return }
        for item in items where item.type == CommonPacket.identity {
            if let device = DiscoveredDevice(item: item.data) { found.devices.withLock { $0.append(device) } }
        }
    }
}
