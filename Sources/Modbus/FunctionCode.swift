/// A Modbus function code: the first byte of every PDU.
public struct FunctionCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as it goes on the wire.
    public let rawValue: UInt8
    /// The code `rawValue`, supported or not.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The code `rawValue`, supported or not.
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    /// FC1, Read Coils.
    public static let readCoils = FunctionCode(0x01)
    /// FC2, Read Discrete Inputs.
    public static let readDiscreteInputs = FunctionCode(0x02)
    /// FC3, Read Holding Registers.
    public static let readHoldingRegisters = FunctionCode(0x03)
    /// FC4, Read Input Registers.
    public static let readInputRegisters = FunctionCode(0x04)
    /// FC5, Write Single Coil.
    public static let writeSingleCoil = FunctionCode(0x05)
    /// FC6, Write Single Register.
    public static let writeSingleRegister = FunctionCode(0x06)
    /// FC7, Read Exception Status (serial lines only).
    public static let readExceptionStatus = FunctionCode(0x07)
    /// FC8, Diagnostics (serial lines only).
    public static let diagnostics = FunctionCode(0x08)
    /// FC11, Get Comm Event Counter (serial lines only).
    public static let getCommEventCounter = FunctionCode(0x0B)
    /// FC15, Write Multiple Coils.
    public static let writeMultipleCoils = FunctionCode(0x0F)
    /// FC16, Write Multiple Registers.
    public static let writeMultipleRegisters = FunctionCode(0x10)
    /// FC17, Report Server ID (serial lines only).
    public static let reportServerID = FunctionCode(0x11)
    /// FC22, Mask Write Register.
    public static let maskWriteRegister = FunctionCode(0x16)
    /// FC23, Read/Write Multiple Registers.
    public static let readWriteMultipleRegisters = FunctionCode(0x17)
    /// FC43, Encapsulated Interface Transport: MEI type 14 is Read Device
    /// Identification.
    public static let encapsulatedInterface = FunctionCode(0x2B)

    /// The function codes this implementation understands.
    public static let supported: [FunctionCode] = [
        .readCoils, .readDiscreteInputs, .readHoldingRegisters, .readInputRegisters, .writeSingleCoil,
        .writeSingleRegister, .readExceptionStatus, .diagnostics, .getCommEventCounter, .writeMultipleCoils,
        .writeMultipleRegisters, .reportServerID, .maskWriteRegister, .readWriteMultipleRegisters, .encapsulatedInterface,
    ]

    /// The function code of an exception reply to this one (high bit set).
    public var exception: UInt8 { rawValue | 0x80 }

    /// "FC" and the decimal code: "FC3".
    public var description: String { "FC\(rawValue)" }
}
