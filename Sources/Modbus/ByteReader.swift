/// Reads big-endian fields from a PDU, failing with the exception a server
/// would answer a short or long PDU with.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var index: Int
    let function: UInt8

    init(_ bytes: ArraySlice<UInt8>, function: UInt8) {
        self.bytes = bytes
        index = bytes.startIndex
        self.function = function
    }

    var remaining: Int { bytes.endIndex - index }

    mutating func byte() throws(ModbusException) -> UInt8 {
        guard index < bytes.endIndex else { throw invalid }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func word() throws(ModbusException) -> UInt16 {
        let high = try byte()
        return UInt16(high) << 8 | UInt16(try byte())
    }

    mutating func bytes(_ count: Int) throws(ModbusException) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw invalid }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    mutating func words(_ count: Int) throws(ModbusException) -> [UInt16] {
        var values: [UInt16] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try word()) }
        return values
    }

    /// The PDU must end here.
    func end() throws(ModbusException) {
        guard remaining == 0 else { throw invalid }
    }

    var invalid: ModbusException { ModbusException(function: function, code: .illegalDataValue) }
}

/// Writes big-endian fields.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(function: UInt8) {
        // Room for the largest PDU at once: growing by appends reallocated several times a reply.
        bytes.reserveCapacity(Limits.pduBytes)
        bytes.append(function)
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func word(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func words(_ values: [UInt16]) { values.forEach { word($0) } }

    mutating func append(_ values: [UInt8]) { bytes += values }
}

/// Coils packed eight to a byte, least significant bit first.
enum BitPacking {
    static func pack(_ bits: [Bool]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (index, bit) in bits.enumerated() where bit { bytes[index / 8] |= 1 << UInt8(index % 8) }
        return bytes
    }

    static func unpack(_ bytes: [UInt8], count: Int) -> [Bool] {
        (0..<count).map { bytes[$0 / 8] & (1 << UInt8($0 % 8)) != 0 }
    }
}
