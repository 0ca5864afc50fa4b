/// The four Modbus data tables.
public enum Table: String, Sendable, Hashable, CaseIterable {
    /// Coils (read and write bits), discrete inputs (read-only bits), input
    /// registers (read-only words) and holding registers (read and write words).
    case coils, discreteInputs, inputRegisters, holdingRegisters

    /// Whether the table holds bits (coils, discrete inputs) rather than 16-bit registers.
    public var isBits: Bool { self == .coils || self == .discreteInputs }
}

/// A data address as plant documentation and cpppo write it: the table is in
/// the leading digit, the register number counts from 1.
///
/// | written | table | protocol address |
/// |---|---|---|
/// | 1–9999 | coils | 0–9998 |
/// | 10001–19999, 100001–165536 | discrete inputs | 0–65535 |
/// | 30001–39999, 300001–365536 | input registers | 0–65535 |
/// | 40001–99999, 400001–465536 | holding registers | 0–59998, 0–65535 |
public struct ModbusAddress: Hashable, Sendable, CustomStringConvertible {
    /// The table the address is in.
    public let table: Table
    /// The 0-based address in the PDU.
    public let offset: UInt16

    /// The address `offset` of `table`, as a PDU carries it.
    public init(table: Table, offset: UInt16) {
        self.table = table
        self.offset = offset
    }

    /// Reads a written address such as 40001 or 300001 (see ``ModbusAddress``);
    /// nil for a number in no table's range.
    public init?(_ number: Int) {
        let ranges: [(ClosedRange<Int>, Table, Int)] = [
            (1...9999, .coils, 1), (10001...19999, .discreteInputs, 10001), (30001...39999, .inputRegisters, 30001),
            (40001...99999, .holdingRegisters, 40001), (100_001...165_536, .discreteInputs, 100_001),
            (300_001...365_536, .inputRegisters, 300_001), (400_001...465_536, .holdingRegisters, 400_001),
        ]
        guard let (_, table, base) = ranges.first(where: { $0.0.contains(number) }) else { return nil }
        self.init(table: table, offset: UInt16(number - base))
    }

    /// The six-digit form (400001, 100001, 300001), which covers every offset;
    /// coils are written from 1.
    public var description: String {
        let base = switch table {
        case .coils: 1
        case .discreteInputs: 100_001
        case .inputRegisters: 300_001
        case .holdingRegisters: 400_001
        }
        return "\(base + Int(offset))"
    }

    /// The five-digit form (40001) where the offset allows it, as people
    /// write registers; the six-digit form (465536) above 9998.
    public var short: String {
        guard offset <= 9998 else { return description }
        let base = switch table {
        case .coils: 1
        case .discreteInputs: 10_001
        case .inputRegisters: 30_001
        case .holdingRegisters: 40_001
        }
        return "\(base + Int(offset))"
    }
}
