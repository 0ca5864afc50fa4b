/// A Modbus request PDU, decoded. Addresses are 0-based protocol addresses.
public enum Request: Hashable, Sendable {
    /// FC1: `count` coils from `address`.
    case readCoils(address: UInt16, count: UInt16)
    /// FC2: `count` discrete inputs from `address`.
    case readDiscreteInputs(address: UInt16, count: UInt16)
    /// FC3: `count` holding registers from `address`.
    case readHoldingRegisters(address: UInt16, count: UInt16)
    /// FC4: `count` input registers from `address`.
    case readInputRegisters(address: UInt16, count: UInt16)
    /// FC5: one coil on or off.
    case writeSingleCoil(address: UInt16, value: Bool)
    /// FC6: one holding register.
    case writeSingleRegister(address: UInt16, value: UInt16)
    /// FC7: the eight exception status bits of a serial device.
    case readExceptionStatus
    /// FC8; sub-function 0 (return query data) is the one served.
    case diagnostics(subfunction: UInt16, data: [UInt8])
    /// FC11: the status word and event count of a serial device.
    case getCommEventCounter
    /// FC15: coils from `address`, one per value.
    case writeMultipleCoils(address: UInt16, values: [Bool])
    /// FC16: holding registers from `address`, one per value.
    case writeMultipleRegisters(address: UInt16, values: [UInt16])
    /// FC17: the device's id bytes and run status.
    case reportServerID
    /// FC22: one holding register set to (value AND `andMask`) OR (`orMask` AND NOT
    /// `andMask`).
    case maskWriteRegister(address: UInt16, andMask: UInt16, orMask: UInt16)
    /// FC23: writes `values` from `writeAddress`, then reads `readCount` holding
    /// registers from `readAddress`.
    case readWriteMultipleRegisters(readAddress: UInt16, readCount: UInt16, writeAddress: UInt16, values: [UInt16])
    /// FC43/14: `category` 1 basic, 2 regular, 3 extended, 4 one object.
    case readDeviceIdentification(category: UInt8, objectID: UInt8)

    /// The request's function code (FC43 for ``Request/readDeviceIdentification(category:objectID:)``).
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
