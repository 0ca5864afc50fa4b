/// Request PDU layouts (Modbus application protocol v1.1b3, section 6).
extension Request {
    /// The PDU: function code, then data.
    public var pdu: [UInt8] {
        var out = ByteWriter(function: function.rawValue)
        switch self {
        case .readCoils(let address, let count), .readDiscreteInputs(let address, let count),
             .readHoldingRegisters(let address, let count), .readInputRegisters(let address, let count):
            out.word(address)
            out.word(count)
        case .writeSingleCoil(let address, let value):
            out.word(address)
            out.word(value ? 0xFF00 : 0x0000)
        case .writeSingleRegister(let address, let value):
            out.word(address)
            out.word(value)
        case .readExceptionStatus, .getCommEventCounter, .reportServerID:
            break
        case .diagnostics(let subfunction, let data):
            out.word(subfunction)
            out.append(data)
        case .writeMultipleCoils(let address, let values):
            out.word(address)
            out.word(UInt16(values.count))
            let packed = BitPacking.pack(values)
            out.byte(UInt8(packed.count))
            out.append(packed)
        case .writeMultipleRegisters(let address, let values):
            out.word(address)
            out.word(UInt16(values.count))
            out.byte(UInt8(values.count * 2))
            out.words(values)
        case .maskWriteRegister(let address, let andMask, let orMask):
            out.word(address)
            out.word(andMask)
            out.word(orMask)
        case .readWriteMultipleRegisters(let readAddress, let readCount, let writeAddress, let values):
            out.word(readAddress)
            out.word(readCount)
            out.word(writeAddress)
            out.word(UInt16(values.count))
            out.byte(UInt8(values.count * 2))
            out.words(values)
        case .readDeviceIdentification(let category, let objectID):
            out.byte(0x0E)
            out.byte(category)
            out.byte(objectID)
        }
        return out.bytes
    }

    /// Decodes a request PDU. An unknown function code throws exception 1; a
    /// quantity outside the spec's limits, a wrong byte count or a PDU of the
    /// wrong length, exception 3.
    public init(pdu: ArraySlice<UInt8>) throws(ModbusException) {
        guard let first = pdu.first else { throw ModbusException(function: 0, code: .illegalFunction) }
        // No frame carries more (found by fuzzing: diagnostics took any length).
        guard pdu.count <= Limits.pduBytes else { throw ModbusException(function: first, code: .illegalDataValue) }
        var input = ByteReader(pdu.dropFirst(), function: first)
        switch FunctionCode(first) {
        case .readCoils, .readDiscreteInputs, .readHoldingRegisters, .readInputRegisters:
            self = try Self.read(FunctionCode(first), &input)
        case .writeSingleCoil:
            let address = try input.word()
            let value = try input.word()
            guard value == 0xFF00 || value == 0 else { throw input.invalid }
            self = .writeSingleCoil(address: address, value: value == 0xFF00)
        case .writeSingleRegister:
            self = .writeSingleRegister(address: try input.word(), value: try input.word())
        case .readExceptionStatus: self = .readExceptionStatus
        case .getCommEventCounter: self = .getCommEventCounter
        case .reportServerID: self = .reportServerID
        case .diagnostics:
            self = .diagnostics(subfunction: try input.word(), data: try input.bytes(input.remaining))
        case .writeMultipleCoils: self = try Self.writeCoils(&input)
        case .writeMultipleRegisters: self = try Self.writeRegisters(&input)
        case .maskWriteRegister:
            self = .maskWriteRegister(address: try input.word(), andMask: try input.word(), orMask: try input.word())
        case .readWriteMultipleRegisters: self = try Self.readWrite(&input)
        case .encapsulatedInterface:
            guard try input.byte() == 0x0E else { throw ModbusException(function: first, code: .illegalFunction) }
            let category = try input.byte()
            guard (1...4).contains(category) else { throw input.invalid }
            self = .readDeviceIdentification(category: category, objectID: try input.byte())
        default:
            throw ModbusException(function: first, code: .illegalFunction)
        }
        try input.end()
    }

    private static func read(_ function: FunctionCode, _ input: inout ByteReader) throws(ModbusException) -> Request {
        let address = try input.word()
        let count = try input.word()
        let limit = function.rawValue <= 2 ? Limits.readBits : Limits.readRegisters
        guard limit.contains(Int(count)), Int(address) + Int(count) <= 0x10000 else { throw input.invalid }
        switch function {
        case .readCoils: return .readCoils(address: address, count: count)
        case .readDiscreteInputs: return .readDiscreteInputs(address: address, count: count)
        case .readHoldingRegisters: return .readHoldingRegisters(address: address, count: count)
        default: return .readInputRegisters(address: address, count: count)
        }
    }

    private static func writeCoils(_ input: inout ByteReader) throws(ModbusException) -> Request {
        let address = try input.word()
        let count = Int(try input.word())
        let byteCount = Int(try input.byte())
        guard Limits.writeBits.contains(count), byteCount == (count + 7) / 8, Int(address) + count <= 0x10000 else {
            throw input.invalid
        }
        return .writeMultipleCoils(address: address, values: BitPacking.unpack(try input.bytes(byteCount), count: count))
    }

    private static func writeRegisters(_ input: inout ByteReader) throws(ModbusException) -> Request {
        let address = try input.word()
        let count = Int(try input.word())
        let byteCount = Int(try input.byte())
        guard Limits.writeRegisters.contains(count), byteCount == count * 2, Int(address) + count <= 0x10000 else {
            throw input.invalid
        }
        return .writeMultipleRegisters(address: address, values: try input.words(count))
    }

    private static func readWrite(_ input: inout ByteReader) throws(ModbusException) -> Request {
        let readAddress = try input.word()
        let readCount = try input.word()
        let writeAddress = try input.word()
        let writeCount = Int(try input.word())
        let byteCount = Int(try input.byte())
        guard Limits.readRegisters.contains(Int(readCount)), Limits.readWriteWrite.contains(writeCount),
              byteCount == writeCount * 2 else { throw input.invalid }
        return .readWriteMultipleRegisters(readAddress: readAddress, readCount: readCount, writeAddress: writeAddress,
                                           values: try input.words(writeCount))
    }
}
