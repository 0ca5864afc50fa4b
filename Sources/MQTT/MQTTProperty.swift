/// One MQTT 5.0 property: its identifier and its value, whose type the
/// identifier fixes (the table of the spec, section 2.2.2.2).
public struct MQTTProperty: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case byte(UInt8)
        case twoBytes(UInt16)
        case fourBytes(UInt32)
        case variable(UInt32)
        case string(String)
        case binary([UInt8])
        case pair(String, String)
    }

    enum Kind { case byte, twoBytes, fourBytes, variable, string, binary, pair }

    public let id: UInt8
    public let value: Value

    public init(id: UInt8, value: Value) {
        self.id = id
        self.value = value
    }

    /// The value type of each identifier the spec defines; any other is malformed.
    static let kinds: [UInt8: Kind] = [
        0x01: .byte, 0x02: .fourBytes, 0x03: .string, 0x08: .string, 0x09: .binary, 0x0B: .variable, 0x11: .fourBytes,
        0x12: .string, 0x13: .twoBytes, 0x15: .string, 0x16: .binary, 0x17: .byte, 0x18: .fourBytes, 0x19: .byte,
        0x1A: .string, 0x1C: .string, 0x1F: .string, 0x21: .twoBytes, 0x22: .twoBytes, 0x23: .twoBytes, 0x24: .byte,
        0x25: .byte, 0x26: .pair, 0x27: .fourBytes, 0x28: .byte, 0x29: .byte, 0x2A: .byte,
    ]

    public static func sessionExpiryInterval(_ seconds: UInt32) -> Self { Self(id: 0x11, value: .fourBytes(seconds)) }
    public static func receiveMaximum(_ count: UInt16) -> Self { Self(id: 0x21, value: .twoBytes(count)) }
    public static func maximumPacketSize(_ bytes: UInt32) -> Self { Self(id: 0x27, value: .fourBytes(bytes)) }
    public static func reasonString(_ text: String) -> Self { Self(id: 0x1F, value: .string(text)) }
    public static func userProperty(_ name: String, _ value: String) -> Self { Self(id: 0x26, value: .pair(name, value)) }
    public static func contentType(_ text: String) -> Self { Self(id: 0x03, value: .string(text)) }
    public static func messageExpiryInterval(_ seconds: UInt32) -> Self { Self(id: 0x02, value: .fourBytes(seconds)) }
}

extension Array where Element == MQTTProperty {
    /// The first property `id` carries, as a number (byte, two or four bytes, or variable).
    public func number(_ id: UInt8) -> UInt32? {
        for property in self where property.id == id {
            switch property.value {
            case .byte(let value): return UInt32(value)
            case .twoBytes(let value): return UInt32(value)
            case .fourBytes(let value), .variable(let value): return value
            default: return nil
            }
        }
        return nil
    }

    public func text(_ id: UInt8) -> String? {
        for property in self where property.id == id { if case .string(let text) = property.value { return text } }
        return nil
    }
}
