extension Request {
    /// The length of the normal RTU reply (unit, PDU, CRC), or the longest an
    /// RTU frame can be when the reply's length depends on its content.
    public var replyFrameLength: Int {
        let pdu: Int = switch self {
        case .readCoils(_, let count), .readDiscreteInputs(_, let count): 2 + (Int(count) + 7) / 8
        case .readHoldingRegisters(_, let count), .readInputRegisters(_, let count), .readWriteMultipleRegisters(_, let count, _, _):
            2 + 2 * Int(count)
        case .writeSingleCoil, .writeSingleRegister, .writeMultipleCoils, .writeMultipleRegisters, .getCommEventCounter: 5
        case .maskWriteRegister: 7
        case .readExceptionStatus: 2
        case .diagnostics(_, let data): 3 + data.count
        case .reportServerID, .readDeviceIdentification: Limits.pduBytes
        }
        return pdu + 3
    }
}
