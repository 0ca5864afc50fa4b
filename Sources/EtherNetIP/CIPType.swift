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

    /// The little-endian bytes of `text` as one element of this type.
    public func encode(_ text: Substring) -> [UInt8]? {
        switch self {
        case .real: return Float(text).map { Self.bytes($0.bitPattern, size) }
        case .lreal: return Double(text).map { Self.bytes($0.bitPattern, size) }
        case .bool: return ["0", "1", "true", "false"].contains(text.lowercased()) ? [text == "1" || text.lowercased() == "true" ? 1 : 0] : nil
        case .sint, .int, .dint, .lint:
            guard let value = Int64(text), value >= -(1 << (size * 8 - 1)), size == 8 || value < 1 << (size * 8 - 1) else { return nil }
            return Self.bytes(UInt64(bitPattern: value), size)
        case .usint, .uint, .udint, .ulint, .dword:
            guard let value = UInt64(text), size == 8 || value < 1 << (size * 8) else { return nil }
            return Self.bytes(value, size)
        }
    }

    /// One element's bytes as text.
    public func decode(_ bytes: ArraySlice<UInt8>) -> String {
        let raw = bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        switch self {
        case .real: return "\(Float(bitPattern: UInt32(raw)))"
        case .lreal: return "\(Double(bitPattern: raw))"
        case .bool: return raw != 0 ? "1" : "0"
        case .sint, .int, .dint, .lint:
            let shift = UInt64(64 - size * 8)
            return "\(Int64(bitPattern: raw << shift) >> Int64(shift))"
        case .usint, .uint, .udint, .ulint, .dword: return "\(raw)"
        }
    }

    private static func bytes<T: FixedWidthInteger>(_ value: T, _ size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: UInt64(value) >> UInt64($0 * 8)) }
    }
}
