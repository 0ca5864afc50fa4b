/// A CIP general status, with extended status words where the spec or a
/// real controller gives them. A service that fails throws one; the Message
/// Router turns it into the reply's status fields.
public struct CIPStatus: Error, Hashable, Sendable, CustomStringConvertible {
    /// The general status code: 0 for success.
    public let general: UInt8
    /// The extended status words, which say more for some general codes (0x01, 0xFF).
    public let extended: [UInt16]

    /// The status `general`, with `extended` words.
    public init(_ general: UInt8, extended: [UInt16] = []) {
        self.general = general
        self.extended = extended
    }

    /// The service was carried out.
    public static let success = CIPStatus(0x00)
    /// Connection failure; the extended word says which (duplicate, size, no more).
    public static func connectionFailure(_ code: UInt16) -> CIPStatus { CIPStatus(0x01, extended: [code]) }
    /// A path segment cannot be read, or is not one the object takes there.
    public static let pathSegmentError = CIPStatus(0x04)
    /// What the path names does not exist here: a class, an instance, a tag, a
    /// member or an element.
    public static let pathDestinationUnknown = CIPStatus(0x05)
    /// Only part of the data was sent: a Fragmented read has more to come from a
    /// later offset.
    public static let partialTransfer = CIPStatus(0x06)
    /// The object does not offer the service.
    public static let serviceNotSupported = CIPStatus(0x08)
    /// A value written is not valid for the attribute.
    public static let invalidAttributeValue = CIPStatus(0x09)
    /// The object has no such attribute.
    public static let attributeNotSupported = CIPStatus(0x14)
    /// The attribute is read-only (an input assembly's data, an assembly's size).
    public static let attributeNotSettable = CIPStatus(0x0E)
    /// A write to a read-only tag.
    public static let privilegeViolation = CIPStatus(0x0F)
    /// The reply would be larger than the connection or message allows.
    public static let replyTooLarge = CIPStatus(0x11)
    /// The request data is shorter than the service needs.
    public static let notEnoughData = CIPStatus(0x13)
    /// The request data is longer than the service takes.
    public static let tooMuchData = CIPStatus(0x15)
    /// A request packed in a Multiple Service Packet failed; its own reply says how.
    public static let embeddedServiceError = CIPStatus(0x1E)
    /// The path size does not match the path.
    public static let pathSizeInvalid = CIPStatus(0x26)
    /// Logix's 0xFF/0x2104: a byte offset beyond the end of the tag.
    public static let offsetPastEnd = CIPStatus(0xFF, extended: [0x2104])
    /// Logix's 0xFF/0x2105: elements beyond the end of the tag.
    public static let elementsPastEnd = CIPStatus(0xFF, extended: [0x2105])
    /// Logix's 0xFF/0x2107: a write whose type is not the tag's.
    public static let typeMismatch = CIPStatus(0xFF, extended: [0x2107])

    /// "CIP 0x05 (path destination unknown)", with any extended words in hex.
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
        0x06: "partial transfer", 0x08: "service not supported", 0x09: "invalid attribute value", 0x0E: "attribute not settable", 0x0F: "privilege violation", 0x11: "reply data too large", 0x13: "not enough data", 0x14: "attribute not supported",
        0x15: "too much data", 0x1E: "embedded service error", 0x1F: "vendor specific", 0x26: "invalid path size", 0xFF: "general error",
    ]
}
