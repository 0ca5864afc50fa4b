/// The Common Packet Format items of SendRRData and SendUnitData: an address
/// item (null, or a connection id) and a data item (unconnected CIP, or a
/// sequence number and connected CIP).
public struct CommonPacket: Hashable, Sendable {
    /// One item: its type id and its data.
    public struct Item: Hashable, Sendable {
        /// The item type id, such as ``CommonPacket/unconnectedData``.
        public var type: UInt16
        /// The item's data, without its type and length.
        public var data: [UInt8]
        /// An item of `type` holding `data`.
        public init(type: UInt16, data: [UInt8]) { self.type = type; self.data = data }
    }

    /// The address item of an unconnected message: empty.
    public static let nullAddress: UInt16 = 0x0000
    /// ListIdentity's CIP identity item.
    public static let identity: UInt16 = 0x000C
    /// The address item of a connected message: the connection id.
    public static let connectedAddress: UInt16 = 0x00A1
    /// The data item of a connected message: sequence number, then the CIP message.
    public static let connectedData: UInt16 = 0x00B1
    /// The data item of an unconnected message: the CIP message.
    public static let unconnectedData: UInt16 = 0x00B2
    /// ListServices' communications item.
    public static let services: UInt16 = 0x0100
    /// A Forward Open reply's O→T socket address: where the originator sends its I/O packets.
    public static let outputSocketAddress: UInt16 = 0x8000
    /// A T→O socket address (a multicast group, or where the originator listens).
    public static let inputSocketAddress: UInt16 = 0x8001
    /// An I/O packet's address item: the connection id and the sequence number.
    public static let sequencedAddress: UInt16 = 0x8002

    /// The interface handle: 0 for CIP.
    public var interface: UInt32
    /// SendRRData's timeout in seconds; 0 for SendUnitData.
    public var timeout: UInt16
    /// The items: an address item, then a data item.
    public var items: [Item]

    /// A packet of `items`, for the CIP interface.
    public init(interface: UInt32 = 0, timeout: UInt16 = 0, items: [Item]) {
        self.interface = interface
        self.timeout = timeout
        self.items = items
    }

    /// SendRRData / SendUnitData data: interface handle, timeout, then the items.
    public init(parsing data: [UInt8]) throws(CIPStatus) {
        var reader = WireReader(data)
        interface = try reader.u32()
        timeout = try reader.u16()
        items = try Self.items(&reader)
    }

    /// Item count then items (also ListIdentity's and ListServices' replies).
    static func items(_ reader: inout WireReader) throws(CIPStatus) -> [Item] {
        let count = try reader.u16()
        var items: [Item] = []
        for _ in 0..<count {
            let type = try reader.u16()
            let length = try reader.u16()
            items.append(Item(type: type, data: Array(try reader.take(Int(length)))))
        }
        return items
    }

    /// The packet as sent: interface handle, timeout, item count, then each item's
    /// type, length and data.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.append32(interface)
        out.append16(timeout)
        out += Self.itemBytes(items)
        return out
    }

    static func itemBytes(_ items: [Item]) -> [UInt8] {
        var out: [UInt8] = []
        out.append16(UInt16(items.count))
        for item in items {
            out.append16(item.type)
            out.append16(UInt16(item.data.count))
            out += item.data
        }
        return out
    }
}
