/// The Logix atomic types, by their CIP type codes. A BOOL array is held and
/// sent as DWORDs, 32 BOOLs to each, as a Logix controller does.
public enum CIPType: UInt16, CaseIterable, Sendable {
    /// Integers of 1, 8, 16, 32 and 64 bits, signed (a BOOL is one byte).
    case bool = 0xC1, sint = 0xC2, int = 0xC3, dint = 0xC4, lint = 0xC5
    /// Unsigned integers of 8, 16, 32 and 64 bits.
    case usint = 0xC6, uint = 0xC7, udint = 0xC8, ulint = 0xC9
    /// IEEE 754 floats of 32 and 64 bits, and a 32-bit bit string.
    case real = 0xCA, lreal = 0xCB, dword = 0xD3

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .sint, .usint: 1
        case .int, .uint: 2
        case .dint, .udint, .real, .dword: 4
        case .lint, .ulint, .lreal: 8
        }
    }

    /// The Logix name, upper case: "DINT".
    public var name: String { String(describing: self).uppercased() }

    /// The type a Logix name names, in any case; nil for none.
    public init?(name: String) {
        guard let type = Self.allCases.first(where: { $0.name == name.uppercased() }) else { return nil }
        self = type
    }
}
