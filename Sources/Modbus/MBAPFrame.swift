/// A Modbus/TCP application data unit: the MBAP header's transaction id and
/// unit, and the PDU. The protocol id is always 0; the length is the unit
/// byte plus the PDU.
public struct MBAPFrame: Hashable, Sendable {
    /// The id the client chose: the reply carries it back, which lets several
    /// requests be in flight at once.
    public var transaction: UInt16
    /// The unit id: which slave behind a gateway the request is for.
    public var unit: UInt8
    /// The PDU: function code and data.
    public var pdu: [UInt8]

    /// A frame of `pdu` for `unit` under `transaction`.
    public init(transaction: UInt16, unit: UInt8, pdu: [UInt8]) {
        self.transaction = transaction
        self.unit = unit
        self.pdu = pdu
    }

    /// Header bytes up to the PDU: transaction (2), protocol (2), length (2) and unit (1).
    public static let headerLength = 7
    /// The largest length field: the unit and a 253-byte PDU.
    public static let maximumLength = 1 + Limits.pduBytes
}

/// A header no Modbus/TCP peer sends: the connection that sent it is closed.
public struct MBAPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with the header.
    public let reason: String
    /// "bad MBAP header:" and the reason.
    public var description: String { "bad MBAP header: \(reason)" }
}
