/// Reply PDU layouts (Modbus application protocol v1.1b3, sections 6 and 7).
extension Response {
    /// The PDU replying to `request`.
    public func pdu(for request: Request) -> [UInt8] {
        if case .exception(let exception) = self { return [exception.function | 0x80, exception.code.rawValue] }
        var out = ByteWriter(function: request.function.rawValue)
        switch self {
        case .bits(let bits):
            let packed = BitPacking.pack(bits)
            out.byte(UInt8(packed.count))
            out.append(packed)
        case .registers(let values):
            out.byte(UInt8(values.count * 2))
            out.words(values)
        case .writeSingleCoil(let address, let value):
            out.word(address)
            out.word(value ? 0xFF00 : 0)
        case .writeSingleRegister(let address, let value):
            out.word(address)
            out.word(value)
        case .exceptionStatus(let status):
            out.byte(status)
        case .diagnostics(let subfunction, let data):
            out.word(subfunction)
            out.append(data)
        case .commEventCounter(let status, let count):
            out.word(status)
            out.word(count)
        case .writeMultiple(let address, let count):
            out.word(address)
            out.word(count)
        case .serverID(let id, let running):
            out.byte(UInt8(id.count + 1))
            out.append(id)
            out.byte(running ? 0xFF : 0x00)
        case .maskWriteRegister(let address, let andMask, let orMask):
            out.word(address)
            out.word(andMask)
            out.word(orMask)
        case .deviceIdentification(let identification):
            out.byte(0x0E)
            out.byte(identification.category)
            out.byte(identification.conformity)
            out.byte(identification.moreFollows ? 0xFF : 0)
            out.byte(identification.nextObjectID)
            out.byte(UInt8(identification.objects.count))
            for object in identification.objects {
                out.byte(object.id)
                out.byte(UInt8(object.value.count))
                out.append(object.value)
            }
        case .exception:
            break
        }
        return out.bytes
    }

    /// Decodes the reply to `request`; a reply that does not fit it (another
    /// function, a wrong byte count, an echo that differs) is `.malformedReply`.
    public init(pdu: ArraySlice<UInt8>, for request: Request) throws(ModbusError) {
        guard let first = pdu.first else { throw ModbusError(.malformedReply, "empty reply") }
        guard pdu.count <= Limits.pduBytes else { throw ModbusError(.malformedReply, "a reply of \(pdu.count) bytes") }
        let function = request.function.rawValue
        if first == function | 0x80 {
            guard pdu.count == 2 else { throw ModbusError(.malformedReply, "exception reply of \(pdu.count) bytes") }
            self = .exception(ModbusException(function: function, code: ExceptionCode(rawValue: pdu[pdu.startIndex + 1])))
            return
        }
        guard first == function else { throw ModbusError(.malformedReply, "reply FC\(first) to a FC\(function) request") }
        var input = ByteReader(pdu.dropFirst(), function: first)
        do {
            self = try Self.decode(&input, for: request)
            try input.end()
        } catch {
            throw ModbusError(.malformedReply, "FC\(function) reply does not fit its request (\(pdu.count) bytes)")
        }
        try check(against: request)
    }

    private static func decode(_ input: inout ByteReader, for request: Request) throws(ModbusException) -> Response {
        switch request {
        case .readCoils(_, let count), .readDiscreteInputs(_, let count):
            let bytes = try input.bytes(Int(try input.byte()))
            guard bytes.count == (Int(count) + 7) / 8 else { throw input.invalid }
            return .bits(BitPacking.unpack(bytes, count: Int(count)))
        case .readHoldingRegisters, .readInputRegisters, .readWriteMultipleRegisters:
            let byteCount = Int(try input.byte())
            guard byteCount % 2 == 0 else { throw input.invalid }
            return .registers(try input.words(byteCount / 2))
        case .writeSingleCoil:
            let address = try input.word()
            return .writeSingleCoil(address: address, value: try input.word() == 0xFF00)
        case .writeSingleRegister:
            return .writeSingleRegister(address: try input.word(), value: try input.word())
        case .readExceptionStatus:
            return .exceptionStatus(try input.byte())
        case .diagnostics:
            return .diagnostics(subfunction: try input.word(), data: try input.bytes(input.remaining))
        case .getCommEventCounter:
            return .commEventCounter(status: try input.word(), count: try input.word())
        case .writeMultipleCoils, .writeMultipleRegisters:
            return .writeMultiple(address: try input.word(), count: try input.word())
        case .reportServerID:
            let count = Int(try input.byte())
            guard count >= 1 else { throw input.invalid }
            let id = try input.bytes(count - 1)
            return .serverID(id: id, running: try input.byte() == 0xFF)
        case .maskWriteRegister:
            return .maskWriteRegister(address: try input.word(), andMask: try input.word(), orMask: try input.word())
        case .readDeviceIdentification:
            return .deviceIdentification(try decodeIdentification(&input))
        }
    }

    private static func decodeIdentification(_ input: inout ByteReader) throws(ModbusException) -> DeviceIdentification {
        guard try input.byte() == 0x0E else { throw input.invalid }
        let category = try input.byte()
        let conformity = try input.byte()
        let moreFollows = try input.byte() == 0xFF
        let next = try input.byte()
        let count = Int(try input.byte())
        var objects: [DeviceIdentification.Object] = []
        for _ in 0..<count {
            let id = try input.byte()
            objects.append(DeviceIdentification.Object(id: id, value: try input.bytes(Int(try input.byte()))))
        }
        return DeviceIdentification(category: category, conformity: conformity, moreFollows: moreFollows, nextObjectID: next, objects: objects)
    }

    /// Counts and echoes must agree with what was asked.
    private func check(against request: Request) throws(ModbusError) {
        let fits: Bool = switch (request, self) {
        case (.readHoldingRegisters(_, let count), .registers(let values)), (.readInputRegisters(_, let count), .registers(let values)),
             (.readWriteMultipleRegisters(_, let count, _, _), .registers(let values)):
            values.count == Int(count)
        case (.writeSingleCoil(let address, let value), .writeSingleCoil(let echoed, let echoedValue)):
            address == echoed && value == echoedValue
        case (.writeSingleRegister(let address, let value), .writeSingleRegister(let echoed, let echoedValue)):
            address == echoed && value == echoedValue
        case (.writeMultipleCoils(let address, let values), .writeMultiple(let echoed, let count)):
            address == echoed && values.count == Int(count)
        case (.writeMultipleRegisters(let address, let values), .writeMultiple(let echoed, let count)):
            address == echoed && values.count == Int(count)
        case (.diagnostics(let subfunction, let data), .diagnostics(let echoed, let echoedData)):
            subfunction != 0 || (echoed == 0 && data == echoedData)
        default:
            true
        }
        guard fits else { throw ModbusError(.malformedReply, "FC\(request.function.rawValue) reply does not echo its request") }
    }
}
