/// The Modbus application protocol's limits (v1.1b3, section 6), in one place.
public enum Limits {
    /// Coils or discrete inputs per read (FC1, FC2).
    public static let readBits = 1...2000
    /// Registers per read (FC3, FC4, and the read part of FC23).
    public static let readRegisters = 1...125
    /// Coils per write (FC15).
    public static let writeBits = 1...1968
    /// Registers per write (FC16).
    public static let writeRegisters = 1...123
    /// Registers written by FC23.
    public static let readWriteWrite = 1...121
    /// A PDU: function code and data.
    public static let pduBytes = 253
}
