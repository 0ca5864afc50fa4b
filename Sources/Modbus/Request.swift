/// A Modbus request PDU, decoded. Addresses are 0-based protocol addresses.
public enum Request: Hashable, Sendable {
    case readCoils(address: UInt16, count: UInt16)
    case readDiscreteInputs(address: UInt16, count: UInt16)
    case readHoldingRegisters(address: UInt16, count: UInt16)
    case readInputRegisters(address: UInt16, count: UInt16)
    case writeSingleCoil(address: UInt16, value: Bool)
    case writeSingleRegister(address: UInt16, value: UInt16)
    case readExceptionStatus
    /// FC8; sub-function 0 (return query data) is the one served.
    case diagnostics(subfunction: UInt16, data: [UInt8])
    case getCommEventCounter
    case writeMultipleCoils(address: UInt16, values: [Bool])
    case writeMultipleRegisters(address: UInt16, values: [UInt16])
    case reportServerID
    case maskWriteRegister(address: UInt16, andMask: UInt16, orMask: UInt16)
    case readWriteMultipleRegisters(readAddress: UInt16, readCount: UInt16, writeAddress: UInt16, values: [UInt16])
    /// FC43/14: `category` 1 basic, 2 regular, 3 extended, 4 one object.
    case readDeviceIdentification(category: UInt8, objectID: UInt8)

    public var function: FunctionCode {
        switch self {
        case .readCoils: .readCoils
        case .readDiscreteInputs: .readDiscreteInputs
        case .readHoldingRegisters: .readHoldingRegisters
        case .readInputRegisters: .readInputRegisters
        case .writeSingleCoil: .writeSingleCoil
        case .writeSingleRegister: .writeSingleRegister
        case .readExceptionStatus: .readExceptionStatus
        case .diagnostics: .diagnostics
        case .getCommEventCounter: .getCommEventCounter
        case .writeMultipleCoils: .writeMultipleCoils
        case .writeMultipleRegisters: .writeMultipleRegisters
        case .reportServerID: .reportServerID
        case .maskWriteRegister: .maskWriteRegister
        case .readWriteMultipleRegisters: .readWriteMultipleRegisters
        case .readDeviceIdentification: .encapsulatedInterface
        }
    }

    /// Whether the request changes the server's data (a gateway sends these first).
    public var isWrite: Bool {
        switch self {
        case .writeSingleCoil, .writeSingleRegister, .writeMultipleCoils, .writeMultipleRegisters,
             .maskWriteRegister, .readWriteMultipleRegisters: true
        default: false
        }
    }
}
