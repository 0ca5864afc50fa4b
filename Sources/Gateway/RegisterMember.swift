import EtherNetIP
import Modbus

/// One member of a device's structure tag, held in Modbus registers (or a
/// coil): how many, in what order, and the scale that makes a raw integer
/// an engineering value.
public struct RegisterMember: Sendable, Hashable {
    /// What the registers hold.
    public enum Encoding: String, Sendable, CaseIterable {
        /// 16-bit and 32-bit integers, signed and unsigned; a 32-bit float; a coil or
        /// discrete input.
        case int = "INT", uint = "UINT", dint = "DINT", udint = "UDINT", real = "REAL", bool = "BOOL"

        var registers: Int { [.dint, .udint, .real].contains(self) ? 2 : 1 }
    }

    /// The member's name in the structure.
    public var name: String
    /// Its first register (or its coil).
    public var address: ModbusAddress
    /// What the registers hold, and so how many there are.
    public var encoding: Encoding
    /// The first register holds the low word (Modbus's "little-endian word order").
    public var lowWordFirst = false
    /// Each register's two bytes are swapped.
    public var swapBytes = false
    /// Tag value = raw × scale (the member is then a REAL).
    public var scale: Double?
    /// Clients may not write it, though its register could take a write.
    public var readOnly = false
    /// A REAL member is published (MQTT) only when it moves more than this from the value last published.
    public var deadband: Double?

    /// A member `name` at `address` holding `encoding`: high word first, bytes as
    /// sent, unscaled, writable where its table is.
    public init(name: String, address: ModbusAddress, encoding: Encoding) {
        self.name = name
        self.address = address
        self.encoding = encoding
    }

    /// The member's Logix type.
    public var type: CIPType {
        if scale != nil { return .real }
        switch encoding {
        case .int: return .int
        case .uint: return .uint
        case .dint: return .dint
        case .udint: return .udint
        case .real: return .real
        case .bool: return .bool
        }
    }

    /// Input registers and discrete inputs cannot be written.
    public var writable: Bool { !readOnly && [.holdingRegisters, .coils].contains(address.table) }

    /// The addresses it is read from.
    public var addresses: [ModbusAddress] {
        (0..<encoding.registers).map { ModbusAddress(table: address.table, offset: address.offset &+ UInt16($0)) }
    }

    /// The registers of `members` read in one go (`members.flatMap(\.addresses)`), cut into each member's own.
    public static func split(_ registers: [UInt16], among members: [RegisterMember]) -> [ArraySlice<UInt16>] {
        var next = registers[...]
        return members.map { member in
            defer { next = next.dropFirst(member.encoding.registers) }
            return next.prefix(member.encoding.registers)
        }
    }

    /// Registers as the member's tag bytes (little-endian, as CIP sends them).
    func bytes(from registers: ArraySlice<UInt16>) -> [UInt8] {
        let raw = raw(from: registers)
        if encoding == .bool { return [raw != 0 ? 1 : 0] }
        guard let scale else { return Self.littleEndian(raw, count: type.size) }
        return Self.littleEndian(Float(Self.value(raw, encoding) * scale).bitPattern, count: 4)
    }

    /// The member's value as a number (scaled, when it has a scale), for the web API.
    public func number(from registers: ArraySlice<UInt16>) -> Double {
        let value = Self.value(raw(from: registers), encoding)
        if encoding == .bool { return value != 0 ? 1 : 0 }
        return scale.map { Double(Float(value * $0)) } ?? value
    }

    /// The registers that hold `number` (unscaled first); 0x09 when it does
    /// not fit, a fraction given to a whole-number member included.
    public func registers(for number: Double) throws(CIPStatus) -> [UInt16] {
        if scale == nil, encoding != .real, number.rounded() != number { throw CIPStatus(0x09) }
        let raw = try Self.raw(scale.map { (number / $0).rounded() } ?? number, for: encoding == .bool ? .uint : encoding)
        return words(encoding == .bool ? (raw != 0 ? 1 : 0) : raw)
    }

    private func raw(from registers: ArraySlice<UInt16>) -> UInt32 {
        let words = registers.map { swapBytes ? $0.byteSwapped : $0 }
        return words.count == 2 ? (lowWordFirst ? UInt32(words[words.startIndex + 1]) << 16 | UInt32(words[words.startIndex])
                                                : UInt32(words[words.startIndex]) << 16 | UInt32(words[words.startIndex + 1]))
                                : UInt32(words[words.startIndex])
    }

    private static func value(_ raw: UInt32, _ encoding: Encoding) -> Double {
        switch encoding {
        case .bool, .uint, .udint: Double(raw)
        case .int: Double(Int16(truncatingIfNeeded: raw))
        case .dint: Double(Int32(bitPattern: raw))
        case .real: Double(Float(bitPattern: raw))
        }
    }

    private func words(_ raw: UInt32) -> [UInt16] {
        let words: [UInt16] = encoding.registers == 2
            ? (lowWordFirst ? [UInt16(raw & 0xFFFF), UInt16(raw >> 16)] : [UInt16(raw >> 16), UInt16(raw & 0xFFFF)])
            : [UInt16(truncatingIfNeeded: raw)]
        return words.map { swapBytes ? $0.byteSwapped : $0 }
    }

    func registers(from bytes: ArraySlice<UInt8>) throws(CIPStatus) -> [UInt16] {
        guard bytes.count == type.size else { throw .notEnoughData }
        var raw = bytes.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        if encoding == .bool { raw = raw & 1 }
        if let scale {
            let wanted = (Double(Float(bitPattern: raw)) / scale).rounded()
            raw = try Self.raw(wanted, for: encoding)
        }
        let words: [UInt16] = encoding.registers == 2
            ? (lowWordFirst ? [UInt16(raw & 0xFFFF), UInt16(raw >> 16)] : [UInt16(raw >> 16), UInt16(raw & 0xFFFF)])
            : [UInt16(truncatingIfNeeded: raw)]
        return words.map { swapBytes ? $0.byteSwapped : $0 }
    }

    /// An engineering value divided by the scale, as the raw register content.
    private static func raw(_ value: Double, for encoding: Encoding) throws(CIPStatus) -> UInt32 {
        let range: ClosedRange<Double> = switch encoding {
        case .int: -32768...32767
        case .uint, .bool: 0...65535
        case .dint: -2_147_483_648...2_147_483_647
        case .udint: 0...4_294_967_295
        case .real: -Double(Float.greatestFiniteMagnitude)...Double(Float.greatestFiniteMagnitude)
        }
        guard value.isFinite, range.contains(value) else { throw CIPStatus(0x09) }
        switch encoding {
        case .real: return Float(value).bitPattern
        case .int, .dint: return UInt32(truncatingIfNeeded: Int64(value))
        default: return UInt32(value)
        }
    }

    private static func littleEndian(_ value: UInt32, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: value >> UInt32($0 * 8)) }
    }
}
