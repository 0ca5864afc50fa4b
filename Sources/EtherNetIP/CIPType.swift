/// The Logix atomic types, by their CIP type codes. A BOOL array is held and
/// sent as DWORDs, 32 BOOLs to each, as a Logix controller does.
public enum CIPType: UInt16, CaseIterable, Sendable {
    case bool = 0xC1, sint = 0xC2, int = 0xC3, dint = 0xC4, lint = 0xC5
    case usint = 0xC6, uint = 0xC7, udint = 0xC8, ulint = 0xC9
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

    public var name: String { String(describing: self).uppercased() }

    public init?(name: String) {
        guard let type = Self.allCases.first(where: { $0.name == name.uppercased() }) else { return nil }
        self = type
    }
}
