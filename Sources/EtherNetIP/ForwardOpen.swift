/// A Forward Open (0x54) or Large Forward Open (0x5B) request, read: the
/// fields both kinds of connection share (CIP Vol. 1, 3-5.4.1.2).
struct ForwardOpen {
    /// How a connection's packets travel one way (the network connection parameters' type).
    enum ConnectionType: Equatable {
        case null, multicast, pointToPoint, reserved
    }

    let service: UInt8
    let large: Bool
    /// The O→T connection id the originator proposes (its own for multicast; 0 for point-to-point).
    let outID: UInt32
    /// The T→O connection id: the originator's for point-to-point.
    let inID: UInt32
    let triple: ConnectionManager.Triple
    /// The timeout multiplier's code, 0-7: timeouts are the RPI times 4 << code.
    let multiplier: UInt8
    /// The O→T requested packet interval, in microseconds.
    let rpiOut: UInt32
    let parametersOut: UInt32
    /// The T→O requested packet interval, in microseconds.
    let rpiIn: UInt32
    let parametersIn: UInt32
    /// Direction (bit 7), trigger (bits 6-4) and transport class (bits 3-0).
    let transport: UInt8
    /// The connection path: electronic key, class, instance, connection points.
    let path: ArraySlice<UInt8>

    init(_ request: CIPRequest) throws(CIPStatus) {
        service = request.service
        large = request.service == ConnectionManager.largeForwardOpen
        var reader = WireReader(request.data)
        try reader.skip(2)
        outID = try reader.u32()
        inID = try reader.u32()
        triple = try ConnectionManager.Triple(&reader)
        multiplier = min(try reader.u8(), 7)
        try reader.skip(3)
        rpiOut = try reader.u32()
        parametersOut = large ? try reader.u32() : UInt32(try reader.u16())
        rpiIn = try reader.u32()
        parametersIn = large ? try reader.u32() : UInt32(try reader.u16())
        transport = try reader.u8()
        let words = Int(try reader.u8())
        path = try reader.take(words * 2)
    }

    var transportClass: UInt8 { transport & 0x0F }
    /// 0 cyclic, 1 change of state, 2 application object.
    var trigger: UInt8 { (transport >> 4) & 0x07 }
    /// The O→T size in bytes, the sequence count and any run/idle header included.
    var sizeOut: Int { size(parametersOut) }
    /// The T→O size in bytes, the sequence count included.
    var sizeIn: Int { size(parametersIn) }
    var typeOut: ConnectionType { type(parametersOut) }
    var typeIn: ConnectionType { type(parametersIn) }

    /// How long the consumer waits for the O→T packets: the O→T RPI times the multiplier.
    var timeoutOut: Duration { .microseconds(Int64(rpiOut) * Int64(4 << multiplier)) }

    private func size(_ parameters: UInt32) -> Int {
        large ? Int(parameters & 0xFFFF) : Int(parameters & 0x1FF)
    }

    private func type(_ parameters: UInt32) -> ConnectionType {
        switch large ? (parameters >> 29) & 3 : (parameters >> 13) & 3 {
        case 0: .null
        case 1: .multicast
        case 2: .pointToPoint
        default: .reserved
        }
    }

    /// A failure reply: the status, then the triple and a remaining path size of 0.
    func failure(_ status: CIPStatus) -> CIPReply {
        CIPReply(service: service, status: status, data: triple.bytes + [0, 0])
    }

    /// A connection failure (0x01) with extended status `code`.
    func failure(_ code: UInt16) -> CIPReply { failure(.connectionFailure(code)) }
}

/// A Class 1 connection path (CIP Vol. 1, C-1.4 and 3-5.4.1.10): an optional
/// electronic key, the Assembly class, the configuration instance, then the
/// connection points, consumed (O→T) before produced (T→O). A simple data
/// segment (configuration data) and a production inhibit time may come first.
struct ConnectionPath {
    /// Vendor, device type, product code, major and minor revision, and whether a compatible one will do.
    struct Key: Equatable {
        let vendor: UInt16
        let deviceType: UInt16
        let productCode: UInt16
        let major: UInt8
        let minor: UInt8
        let compatible: Bool
    }

    var key: Key?
    var classID: UInt32?
    var configuration: UInt32?
    var points: [UInt32] = []
    /// A simple data segment's bytes: the configuration assembly's data.
    var data: [UInt8]?
    /// The production inhibit time segment's milliseconds (0x43).
    var inhibit: UInt8?

    /// An unreadable segment is extended status 0x0315 (invalid segment in the path).
    init(_ bytes: ArraySlice<UInt8>) throws(CIPStatus) {
        var reader = WireReader(bytes)
        do {
            while reader.remaining > 0 { try segment(&reader) }
        } catch {
            throw .connectionFailure(0x0315)
        }
    }

    private mutating func segment(_ reader: inout WireReader) throws(CIPStatus) {
        let kind = try reader.u8()
        switch kind {
        case 0x34:
            guard try reader.u8() == 4 else { throw .pathSegmentError }
            let vendor = try reader.u16(), deviceType = try reader.u16(), productCode = try reader.u16()
            let major = try reader.u8(), minor = try reader.u8()
            key = Key(vendor: vendor, deviceType: deviceType, productCode: productCode, major: major & 0x7F, minor: minor,
                      compatible: major & 0x80 != 0)
        case 0x80:
            data = Array(try reader.take(Int(try reader.u8()) * 2))
        case 0x43:
            inhibit = try reader.u8()
        case 0x20, 0x21, 0x24, 0x25, 0x2C, 0x2D:
            let value = try Self.logical(kind, &reader)
            switch kind & 0x1C {
            case 0x00: classID = value
            case 0x04: configuration = value
            default: points.append(value)
            }
        default:
            throw .pathSegmentError
        }
    }

    private static func logical(_ kind: UInt8, _ reader: inout WireReader) throws(CIPStatus) -> UInt32 {
        guard kind & 0x03 == 1 else { return UInt32(try reader.u8()) }
        try reader.skip(1)
        return UInt32(try reader.u16())
    }
}
