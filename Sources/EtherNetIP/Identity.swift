import NIOCore

/// What the server says it is: the Identity object (class 1), ListIdentity,
/// and the program name (class 0x64). The defaults are a ControlLogix at
/// revision 20, which keeps pycomm3 on symbolic tag paths.
public struct Identity: Sendable {
    /// The CIP vendor id (1: Rockwell Automation).
    public var vendor: UInt16 = 1
    /// The CIP device type (0x0E: programmable logic controller).
    public var deviceType: UInt16 = 0x0E
    /// The vendor's product code (54: a 1756-L61).
    public var productCode: UInt16 = 54
    /// The firmware revision, major and minor: 20 keeps pycomm3 on symbolic tag
    /// paths.
    public var revision: (major: UInt8, minor: UInt8) = (20, 11)
    /// 0x3060: remote run, as pycomm3 expects to see.
    public var status: UInt16 = 0x3060
    /// The serial number ListIdentity and attribute 6 report.
    public var serial: UInt32 = 0x00C0_FFEE
    /// The product name (attribute 7), at most 255 bytes.
    public var productName = "1756-L61/B LOGIX5561"
    /// Attribute 8: 3, operational.
    public var state: UInt8 = 3
    /// Attribute 9, the configuration consistency value: 0.
    public var configurationConsistency: UInt16 = 0
    /// Attribute 10, the heartbeat interval in seconds: 0, none.
    public var heartbeatInterval: UInt8 = 0
    /// The program name class 0x64 reports, which pylogix reads.
    public var programName = "fieldgw"

    /// A 1756-L61 ControlLogix at revision 20.11, running.
    public init() {}

    /// Get Attributes All (0x01) on class 1 instance 1: attributes 1 to 10,
    /// 39 bytes with this name, laid out as a 1756-L61 (and cpppo) lays them
    /// out. pylogix's GetDeviceProperties takes the last byte for the state,
    /// and so shows the heartbeat interval, 0, as it does with cpppo.
    var attributesAll: [UInt8] {
        (1...10).flatMap { attribute($0) ?? [] }
    }

    /// Get Attribute Single (0x0E).
    func attribute(_ id: UInt32) -> [UInt8]? {
        var out: [UInt8] = []
        switch id {
        case 1: out.append16(vendor)
        case 2: out.append16(deviceType)
        case 3: out.append16(productCode)
        case 4: out += [revision.major, revision.minor]
        case 5: out.append16(status)
        case 6: out.append32(serial)
        case 7: out += [UInt8(productName.utf8.count)] + Array(productName.utf8)
        case 8: out.append(state)
        case 9: out.append16(configurationConsistency)
        case 10: out.append(heartbeatInterval)
        default: return nil
        }
        return out
    }

    /// ListIdentity's item 0x0C. The socket address in it is big-endian.
    func listIdentityItem(address: SocketAddress?) -> CommonPacket.Item {
        var data: [UInt8] = []
        data.append16(1)
        data += [0, 2]
        let port = UInt16(address?.port ?? 44818)
        data += [UInt8(port >> 8), UInt8(port & 0xFF)]
        if case .v4(let v4)? = address {
            let raw = v4.address.sin_addr.s_addr
            data += [UInt8(raw & 0xFF), UInt8(raw >> 8 & 0xFF), UInt8(raw >> 16 & 0xFF), UInt8(raw >> 24)]
        } else {
            data += [0, 0, 0, 0]
        }
        data += [UInt8](repeating: 0, count: 8)
        data += (1...8).flatMap { attribute($0) ?? [] }
        return CommonPacket.Item(type: CommonPacket.identity, data: data)
    }

    /// Class 0x64 instance 1, Get Attributes All: the program name.
    var programNameData: [UInt8] {
        var out: [UInt8] = []
        out.append16(UInt16(programName.utf8.count))
        return out + Array(programName.utf8)
    }
}

extension Identity: Hashable {
    /// Identities are equal when every attribute is.
    public static func == (a: Identity, b: Identity) -> Bool {
        a.vendor == b.vendor && a.deviceType == b.deviceType && a.productCode == b.productCode && a.revision == b.revision
            && a.status == b.status && a.serial == b.serial && a.productName == b.productName && a.state == b.state
            && a.configurationConsistency == b.configurationConsistency && a.heartbeatInterval == b.heartbeatInterval
            && a.programName == b.programName
    }

    /// Hashes the serial number and the product name.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(serial)
        hasher.combine(productName)
    }
}
