/// Reads little-endian CIP and encapsulation fields; running short is `CIPStatus.notEnoughData`.
struct WireReader {
    let bytes: ArraySlice<UInt8>
    private(set) var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    var remaining: Int { bytes.endIndex - index }
    var rest: ArraySlice<UInt8> { bytes[index...] }

    mutating func u8() throws(CIPStatus) -> UInt8 {
        guard index < bytes.endIndex else { throw .notEnoughData }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func u16() throws(CIPStatus) -> UInt16 {
        let low = try u8()
        return UInt16(low) | UInt16(try u8()) << 8
    }

    mutating func u32() throws(CIPStatus) -> UInt32 {
        let low = try u16()
        return UInt32(low) | UInt32(try u16()) << 16
    }

    mutating func take(_ count: Int) throws(CIPStatus) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else { throw .notEnoughData }
        defer { index += count }
        return bytes[index..<index + count]
    }

    mutating func skip(_ count: Int) throws(CIPStatus) { _ = try take(count) }
}

extension Array where Element == UInt8 {
    mutating func append16(_ value: UInt16) { append(UInt8(value & 0xFF)); append(UInt8(value >> 8)) }
    mutating func append32(_ value: UInt32) { append16(UInt16(value & 0xFFFF)); append16(UInt16(value >> 16)) }
    mutating func append64(_ value: UInt64) { append32(UInt32(value & 0xFFFF_FFFF)); append32(UInt32(value >> 32)) }
}
