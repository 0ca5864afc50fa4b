import Foundation
import EtherNetIP
import Modbus

extension Configuration {
    /// A device whose registers are one EtherNet/IP structure tag.
    public struct Device: Sendable, Hashable {
        /// The structure tag's name, a Logix name; its type is named after it.
        public var tag: String
        /// The `[[line]]` the device is on.
        public var line: String
        /// The device's slave address on the line, 1 to 247.
        public var slave: UInt8
        /// How often its registers are polled.
        public var period: Duration
        /// Values older than this make a read fail (0x02).
        public var maxAge: Duration
        /// The structure's members, in order: each one register, two, or a coil.
        public var members: [RegisterMember]

        /// A device polled every `period`, whose values serve reads for `maxAge`.
        public init(tag: String, line: String, slave: UInt8, period: Duration = .seconds(1), maxAge: Duration = .seconds(5),
                    members: [RegisterMember]) {
            self.tag = tag
            self.line = line
            self.slave = slave
            self.period = period
            self.maxAge = maxAge
            self.members = members
        }
    }

    /// The EtherNet/IP server: TCP, and UDP discovery, on one port.
    public struct ENIP: Sendable, Hashable {
        /// The address the server binds (`bind`), where discovery also listens.
        public var host: String
        /// The port for TCP and UDP discovery alike, 44818 by default.
        public var port: Int
        /// Forward Open connections at once (`connection_limit`); TCP clients are
        /// counted in ``Configuration/ENIP/limits``.
        public var connectionLimit: Int
        /// Clients let in (empty: everyone), as a Modbus/TCP listener's.
        public var allow: [AddressRange] = []
        /// TCP clients at once, idle and frame timeouts.
        public var limits = ENIPServer.Limits()
        /// What the server says it is ([enip.identity]).
        public var identity = Configuration.defaultIdentity
        /// Where Class 1 I/O packets come and go ([enip.io]); nil: as ``Configuration/ENIP/ioSocket`` says.
        public var io: IO?

        /// [enip.io], or the server's host at port 2222 with inputs to port 2222.
        public var ioSocket: IO { io ?? IO(host: host, port: 2222, destinationPort: 2222) }
    }

    /// A ControlLogix's identity, with a serial number of this machine's own
    /// (from /etc/machine-id), so that two gateways on one network differ.
    public static let defaultIdentity: Identity = {
        var identity = Identity()
        if let id = try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8) {
            // FNV-1a: stable across runs, spread over 32 bits.
            identity.serial = id.trimmingCharacters(in: .whitespacesAndNewlines).utf8.reduce(2_166_136_261) { ($0 ^ UInt32($1)) &* 16_777_619 }
        }
        return identity
    }()

    /// `[enip.identity]`: vendor_id, device_type, product_code, revision ("20.11"), serial_number, product_name.
    static func identity(_ source: TOMLReader) throws(ConfigurationError) -> Identity {
        var reader = source
        var identity = defaultIdentity
        identity.vendor = UInt16(try reader.int("vendor_id", in: 0...0xFFFF) ?? Int(identity.vendor))
        identity.deviceType = UInt16(try reader.int("device_type", in: 0...0xFFFF) ?? Int(identity.deviceType))
        identity.productCode = UInt16(try reader.int("product_code", in: 0...0xFFFF) ?? Int(identity.productCode))
        if let revision = try reader.string("revision") {
            let parts = revision.split(separator: ".").compactMap { UInt8($0) }
            guard parts.count == 2 else { throw reader.error("revision", "\"\(revision)\" is not MAJOR.MINOR (20.11), each 0-255") }
            identity.revision = (parts[0], parts[1])
        }
        identity.serial = UInt32(try reader.int("serial_number", in: 0...0xFFFF_FFFF) ?? Int(identity.serial))
        if let name = try reader.string("product_name") {
            guard (1...32).contains(name.utf8.count) else { throw reader.error("product_name", "1 to 32 bytes, not \(name.utf8.count)") }
            identity.productName = name
        }
        try reader.finish()
        return identity
    }

    static func enip(_ source: TOMLReader) throws(ConfigurationError) -> ENIP {
        var reader = source
        let bind = try reader.string("bind") ?? "0.0.0.0:44818"
        guard let (host, port) = hostAndPort(bind) else { throw reader.error("bind", "\"\(bind)\" is not HOST:PORT") }
        let limit = try reader.int("connection_limit", in: 1...4096) ?? 64
        var limits = ENIPServer.Limits()
        limits.connections = try reader.int("tcp_connection_limit", in: 1...100_000) ?? 256
        limits.threads = try reader.int("threads", in: 1...64) ?? 1
        (limits.idle, limits.frame) = try connectionTimeouts(&reader)
        let allow = try allowList(&reader)
        let identity = try reader.subtable("identity").map { table throws(ConfigurationError) in try Self.identity(table) } ?? defaultIdentity
        let io = try reader.subtable("io").map { table throws(ConfigurationError) in try Self.io(table, enipHost: host) }
        try reader.finish()
        return ENIP(host: host, port: port, connectionLimit: limit, allow: allow, limits: limits, identity: identity, io: io)
    }

    static func device(_ source: TOMLReader) throws(ConfigurationError) -> Device {
        var reader = source
        let tag = try reader.required("tag") { reader, key throws(ConfigurationError) in try reader.string(key) }
        guard TagTable.isName(tag) else {
            throw reader.error("tag", "\"\(tag)\" is not a Logix tag name (letters, digits, _)")
        }
        let line = try reader.required("line") { reader, key throws(ConfigurationError) in try reader.string(key) }
        let slave = try reader.required("slave") { reader, key throws(ConfigurationError) in try reader.int(key, in: 1...247) }
        let period = try reader.double("period_s", in: 0.01...86_400) ?? 1
        let maxAge = try reader.double("max_age_s", in: 0.01...86_400) ?? max(5, period * 3)
        var members: [RegisterMember] = []
        for var member in try reader.tables("member") {
            let parsed = try Self.member(&member)
            guard !members.contains(where: { $0.name.lowercased() == parsed.name.lowercased() }) else {
                throw member.error("name", "\"\(parsed.name)\" names two members")
            }
            members.append(parsed)
        }
        guard !members.isEmpty else { throw reader.error("member", "a device needs at least one [[device.member]]") }
        try reader.finish()
        return Device(tag: tag, line: line, slave: UInt8(slave), period: .milliseconds(Int(period * 1000)),
                      maxAge: .milliseconds(Int(maxAge * 1000)), members: members)
    }

    /// A `[[device.member]]` (or `[[assembly.member]]`): name, register, type, orders, scale, read_only, deadband.
    static func member(_ reader: inout TOMLReader) throws(ConfigurationError) -> RegisterMember {
        let name = try reader.required("name") { reader, key throws(ConfigurationError) in try reader.string(key) }
        guard TagTable.isName(name) else {
            throw reader.error("name", "\"\(name)\" is not a member name (letters, digits, _)")
        }
        let text = try reader.required("register") { reader, key throws(ConfigurationError) in try reader.string(key) }
        guard let number = Int(text), let address = ModbusAddress(number) else {
            throw reader.error("register", "\"\(text)\" is not a register as cpppo writes it (40001, 30001, 10001, 1 or six digits)")
        }
        let defaultType = address.table.isBits ? "BOOL" : "INT"
        let typeText = try reader.string("type") ?? defaultType
        guard let encoding = RegisterMember.Encoding(rawValue: typeText.uppercased()) else {
            throw reader.error("type", "\"\(typeText)\" is not one of \(RegisterMember.Encoding.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (encoding == .bool) == address.table.isBits else {
            throw reader.error("type", address.table.isBits ? "a coil or discrete input is a BOOL" : "a register is not a BOOL")
        }
        var member = RegisterMember(name: name, address: address, encoding: encoding)
        member.lowWordFirst = try order(&reader, "word_order")
        member.swapBytes = try order(&reader, "byte_order")
        member.scale = try reader.double("scale", in: -1e12...1e12)
        if member.scale == 0 || (member.scale != nil && encoding == .bool) { throw reader.error("scale", "a scale must be non-zero, and a BOOL has none") }
        member.readOnly = try reader.bool("read_only") ?? false
        member.deadband = try reader.double("deadband", in: 0...1e12)
        if member.deadband != nil && member.type != .real { throw reader.error("deadband", "a deadband is for REAL members (type REAL, or a scale)") }
        try reader.finish()
        return member
    }

    /// "big" (the Modbus convention: high word first, high byte first) or "little".
    private static func order(_ reader: inout TOMLReader, _ key: String) throws(ConfigurationError) -> Bool {
        switch try reader.string(key) ?? "big" {
        case "big": return false
        case "little": return true
        case let other: throw reader.error(key, "\"\(other)\" is not big or little")
        }
    }

    /// Devices on lines that exist, with tag names used once.
    func checkDevices(_ root: TOMLReader, lines names: Set<String>) throws(ConfigurationError) {
        var tags: Set<String> = []
        for (index, device) in devices.enumerated() {
            guard names.contains(device.line) else { throw root.error("device[\(index)].line", "no [[line]] is named \"\(device.line)\"") }
            guard tags.insert(device.tag.lowercased()).inserted else { throw root.error("device[\(index)].tag", "\"\(device.tag)\" names two devices") }
        }
    }
}
