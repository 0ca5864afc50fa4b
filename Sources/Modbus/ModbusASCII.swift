/// Modbus ASCII framing: ':' then unit, PDU and LRC as upper-case hex, then CR LF.
public enum ModbusASCII {
    /// A frame that is not well-formed Modbus ASCII, or whose LRC is wrong.
    public struct DecodeError: Error, Hashable, Sendable, CustomStringConvertible {
        /// What is wrong with the frame.
        public let reason: String
        /// "Modbus ASCII frame:" and the reason.
        public var description: String { "Modbus ASCII frame: \(reason)" }
    }

    /// The longitudinal redundancy check: the two's complement of the byte sum.
    public static func lrc(_ bytes: some Sequence<UInt8>) -> UInt8 {
        UInt8(truncatingIfNeeded: 0 &- bytes.reduce(UInt8(0), &+))
    }

    /// The frame for `pdu` to `unit`: ':', unit, PDU and LRC as upper-case hex,
    /// CR LF.
    public static func encode(unit: UInt8, pdu: [UInt8]) -> [UInt8] {
        let body = [unit] + pdu
        let hex = (body + [lrc(body)]).flatMap { byte in [digit(byte >> 4), digit(byte & 0x0F)] }
        return [UInt8(ascii: ":")] + hex + [0x0D, 0x0A]
    }

    /// Decodes one frame (':' to CR LF) into unit and PDU, checking the LRC.
    public static func decode(_ frame: [UInt8]) throws(DecodeError) -> (unit: UInt8, pdu: [UInt8]) {
        guard frame.count >= 9, frame.first == UInt8(ascii: ":"), frame.suffix(2) == [0x0D, 0x0A] else {
            throw DecodeError(reason: "must start with ':' and end with CR LF, with unit, function and LRC between")
        }
        let hex = frame.dropFirst().dropLast(2)
        guard hex.count % 2 == 0 else { throw DecodeError(reason: "an odd number of hex digits") }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            guard let high = value(hex[index]), let low = value(hex[index + 1]) else {
                throw DecodeError(reason: "not a hex digit at offset \(index)")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        let body = bytes.dropLast()
        guard lrc(body) == bytes.last else { throw DecodeError(reason: "LRC \(bytes.last ?? 0) is not \(lrc(body))") }
        return (body.first ?? 0, Array(body.dropFirst()))
    }

    private static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }

    private static func value(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
