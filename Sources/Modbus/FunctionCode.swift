/// A Modbus function code: the first byte of every PDU.
public struct FunctionCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    public static let readCoils = FunctionCode(0x01)
    public static let readDiscreteInputs = FunctionCode(0x02)
    public static let readHoldingRegisters = FunctionCode(0x03)
    public static let readInputRegisters = FunctionCode(0x04)
    public static let writeSingleCoil = FunctionCode(0x05)
    public static let writeSingleRegister = FunctionCode(0x06)
    public static let readExceptionStatus = FunctionCode(0x07)
    public static let diagnostics = FunctionCode(0x08)
    public static let getCommEventCounter = FunctionCode(0x0B)
    public static let writeMultipleCoils = FunctionCode(0x0F)
    public static let writeMultipleRegisters = FunctionCode(0x10)
    public static let reportServerID = FunctionCode(0x11)
    public static let maskWriteRegister = FunctionCode(0x16)
    public static let readWriteMultipleRegisters = FunctionCode(0x17)
    public static let encapsulatedInterface = FunctionCode(0x2B)

    /// The function codes this implementation understands.
    public static let supported: [FunctionCode] = [
        .readCoils, .readDiscreteInputs, .readHoldingRegisters, .readInputRegisters, .writeSingleCoil,
        .writeSingleRegister, .readExceptionStatus, .diagnostics, .getCommEventCounter, .writeMultipleCoils,
        .writeMultipleRegisters, .reportServerID, .maskWriteRegister, .readWriteMultipleRegisters, .encapsulatedInterface,
    ]

    /// The function code of an exception reply to this one (high bit set).
    public var exception: UInt8 { rawValue | 0x80 }

    public var description: String { "FC\(rawValue)" }
}
