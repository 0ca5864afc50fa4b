/// A CIP general status, with extended status words where the spec or a
/// real controller gives them. A service that fails throws one; the Message
/// Router turns it into the reply's status fields.
public struct CIPStatus: Error, Hashable, Sendable, CustomStringConvertible {
    public let general: UInt8
    public let extended: [UInt16]

    public init(_ general: UInt8, extended: [UInt16] = []) {
        self.general = general
        self.extended = extended
    }

    public static let success = CIPStatus(0x00)
    /// Connection failure; the extended word says which (duplicate, size, no more).
    public static func connectionFailure(_ code: UInt16) -> CIPStatus { CIPStatus(0x01, extended: [code]) }
    public static let pathSegmentError = CIPStatus(0x04)
    public static let pathDestinationUnknown = CIPStatus(0x05)
    public static let partialTransfer = CIPStatus(0x06)
    public static let serviceNotSupported = CIPStatus(0x08)
    public static let invalidAttributeValue = CIPStatus(0x09)
    public static let attributeNotSupported = CIPStatus(0x14)
    /// A write to a read-only tag.
    public static let privilegeViolation = CIPStatus(0x0F)
    public static let replyTooLarge = CIPStatus(0x11)
    public static let notEnoughData = CIPStatus(0x13)
    public static let tooMuchData = CIPStatus(0x15)
    public static let embeddedServiceError = CIPStatus(0x1E)
    public static let pathSizeInvalid = CIPStatus(0x26)
    public static let offsetPastEnd = CIPStatus(0xFF, extended: [0x2104])
    public static let elementsPastEnd = CIPStatus(0xFF, extended: [0x2105])
    public static let typeMismatch = CIPStatus(0xFF, extended: [0x2107])

    public var description: String {
        let name = Self.names[general] ?? "status"
        let words = extended.map { "0x" + String($0, radix: 16, uppercase: true) }.joined(separator: ",")
        return "CIP \(Self.hex(general)) (\(name))" + (words.isEmpty ? "" : " extended \(words)")
    }

    /// "0x05": a status or service code as the README and the metrics write it.
    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return "0x" + (digits.count < 2 ? "0" + digits : digits)
    }

    private static let names: [UInt8: String] = [
        0x00: "success", 0x01: "connection failure", 0x02: "resource unavailable", 0x04: "path segment error", 0x05: "path destination unknown",
        0x06: "partial transfer", 0x08: "service not supported", 0x0F: "privilege violation", 0x11: "reply data too large", 0x13: "not enough data", 0x14: "attribute not supported",
        0x15: "too much data", 0x1E: "embedded service error", 0x1F: "vendor specific", 0x26: "invalid path size", 0xFF: "general error",
    ]
}
