/// Modbus/RTU's CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF), by table.
/// It goes on the wire low byte first.
public enum CRC16 {
    static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        return crc
    }

    /// The CRC of `bytes`, a byte at a time.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for byte in bytes { crc = (crc >> 8) ^ table[Int((crc ^ UInt16(byte)) & 0xFF)] }
        return crc
    }

    /// Two bytes a step: the CRC is linear, so after both bytes are XORed in,
    /// the low byte's effect (`pairTable`) and the high byte's (`table`) are
    /// looked up independently, which halves the chain of dependent loads.
    static let pairTable: [UInt16] = (0..<256).map { index in
        let once = table[index]
        return (once >> 8) ^ table[Int(once & 0xFF)]
    }

    /// The CRC of `bytes`, two bytes a step: the framer's fast path.
    public static func checksum(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        table.withUnsafeBufferPointer { table in
            pairTable.withUnsafeBufferPointer { pairTable in
                var index = 0
                while index + 1 < bytes.count {
                    let mixed = crc ^ (UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8)
                    crc = pairTable[Int(mixed & 0xFF)] ^ table[Int(mixed >> 8)]
                    index += 2
                }
                if index < bytes.count { crc = (crc >> 8) ^ table[Int((crc ^ UInt16(bytes[index])) & 0xFF)] }
            }
        }
        return crc
    }

    /// `bytes` followed by their CRC, low byte first.
    public static func appending(to bytes: [UInt8]) -> [UInt8] {
        let crc = checksum(bytes)
        return bytes + [UInt8(crc & 0xFF), UInt8(crc >> 8)]
    }

    /// Whether the last two bytes are the CRC of the others.
    public static func isValid(_ frame: UnsafeBufferPointer<UInt8>) -> Bool {
        guard frame.count >= 3 else { return false }
        let crc = checksum(UnsafeBufferPointer(rebasing: frame[..<(frame.count - 2)]))
        return frame[frame.count - 2] == UInt8(crc & 0xFF) && frame[frame.count - 1] == UInt8(crc >> 8)
    }

    /// Whether the last two bytes are the CRC of the others.
    public static func isValid(_ frame: [UInt8]) -> Bool {
        frame.withUnsafeBufferPointer { isValid($0) }
    }
}

/// An RTU frame: unit address, PDU, CRC.
public enum RTUFrame {
    /// The frame for `pdu` to `unit`: the unit, the PDU, and the CRC low byte first.
    public static func encode(unit: UInt8, pdu: [UInt8]) -> [UInt8] {
        CRC16.appending(to: [unit] + pdu)
    }
}
