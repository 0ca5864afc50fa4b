/// A Modbus/TCP application data unit: the MBAP header's transaction id and
/// unit, and the PDU. The protocol id is always 0; the length is the unit
/// byte plus the PDU.
public struct MBAPFrame: Hashable, Sendable {
    public var transaction: UInt16
    public var unit: UInt8
    public var pdu: [UInt8]

    public init(transaction: UInt16, unit: UInt8, pdu: [UInt8]) {
        self.transaction = transaction
        self.unit = unit
        self.pdu = pdu
    }

    /// Header bytes before the unit: transaction (2), protocol (2), length (2).
    public static let headerLength = 7
    /// The largest length field: the unit and a 253-byte PDU.
    public static let maximumLength = 1 + Limits.pduBytes
}

/// A header no Modbus/TCP peer sends: the connection that sent it is closed.
public struct MBAPError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { "bad MBAP header: \(reason)" }
}
