import Modbus
import NIOCore

/// Modbus decoders: what a Modbus/TCP server reads from its clients, what a
/// master reads from a line or a TCP server, and Modbus ASCII frames.
enum ModbusTargets {
    /// One request of each function the codec knows: the reply decoder needs the question.
    static let requests: [Request] = [
        .readCoils(address: 0, count: 10), .readDiscreteInputs(address: 0, count: 16),
        .readHoldingRegisters(address: 0, count: 3), .readInputRegisters(address: 0, count: 125),
        .writeSingleCoil(address: 1, value: true), .writeSingleRegister(address: 2, value: 7),
        .readExceptionStatus, .diagnostics(subfunction: 0, data: [1, 2]), .getCommEventCounter,
        .writeMultipleCoils(address: 0, values: [true, false, true]), .writeMultipleRegisters(address: 0, values: [1, 2]),
        .reportServerID, .maskWriteRegister(address: 1, andMask: 0xF0F0, orMask: 0x0F0F),
        .readWriteMultipleRegisters(readAddress: 0, readCount: 2, writeAddress: 10, values: [5]),
        .readDeviceIdentification(category: 1, objectID: 0),
    ]

    /// A simulator's devices (units 1 and 2), as `fieldgw modbus-sim` serves them.
    static let serving: DeviceServing = {
        let store = DataStore()
        store.define(.holdingRegisters, at: 0, values: Array(0..<200))
        store.define(.inputRegisters, at: 0, values: Array(0..<200))
        store.define(.coils, at: 0, values: Array(repeating: 1, count: 64))
        store.define(.discreteInputs, at: 0, values: Array(repeating: 0, count: 64))
        return DeviceServing(units: UnitMap(devices: [1: ModbusDevice(store: store), 2: ModbusDevice()]))
    }()

    /// A client's byte stream, framed as the Modbus/TCP server frames it and served:
    /// every reply is the request's function (or its exception) and fits an MBAP frame.
    static func mbapServer(_ bytes: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        while let frame = try? MBAPDecoder.frame(from: &buffer) {
            let reply = serving.reply(unit: frame.unit, pdu: frame.pdu)
            let function = frame.pdu.first ?? 0
            require(reply.first == function || reply.first == function | 0x80, "reply \(reply) to \(frame.pdu)")
            require(reply.count <= Limits.pduBytes, "a reply of \(reply.count) bytes")
            var out = ByteBuffer()
            MBAPEncoder.write(MBAPFrame(transaction: frame.transaction, unit: frame.unit, pdu: reply), to: &out)
            let again = try? MBAPDecoder.frame(from: &out)
            require(again?.pdu == reply, "the reply frame does not decode to itself")
        }
    }

    /// A request PDU: what it decodes to encodes back to a PDU that decodes the same.
    static func request(_ bytes: [UInt8]) {
        guard let request = try? Request(pdu: bytes[...]) else { return }
        let encoded = request.pdu
        require(encoded.count <= Limits.pduBytes, "\(request) encodes to \(encoded.count) bytes")
        require((try? Request(pdu: encoded[...])) == request, "\(request) does not survive its own encoding")
    }

    /// A reply PDU to the request the first byte picks: decoded, re-encoded, decoded the same.
    static func response(_ bytes: [UInt8]) {
        guard let pick = bytes.first else { return }
        let request = requests[Int(pick) % requests.count]
        guard let response = try? Response(pdu: bytes.dropFirst(), for: request) else { return }
        let encoded = response.pdu(for: request)
        require((try? Response(pdu: encoded[...], for: request)) == response, "\(response) does not survive its own encoding")
    }

    /// A master's line: the request the first byte picks, sent to a unit, its
    /// echo heard first if the third byte is odd, then the rest in chunks.
    /// Every frame delivered is for that unit with a good CRC, and decodes or is refused.
    static func rtuMaster(_ bytes: [UInt8]) {
        guard bytes.count >= 4 else { return }
        let request = requests[Int(bytes[0]) % requests.count]
        let unit = bytes[1] % 247 + 1
        let sent = RTUFrame.encode(unit: unit, pdu: request.pdu)
        var framer = RTUFramer()
        framer.expectReply(to: request, unit: unit, sent: sent)
        let line = (bytes[2] & 1 == 1 ? sent : []) + bytes.dropFirst(4)
        for chunk in chunks(line, pattern: bytes[3]) {
            for frame in framer.receive(chunk) {
                require(CRC16.isValid(frame) && frame.first == unit, "delivered \(frame) for unit \(unit)")
                _ = try? Response(pdu: frame.dropFirst().dropLast(2), for: request)
            }
        }
        framer.timeout()
        require(framer.counters.noiseBytes >= 0 && framer.pendingCount == 0, "counters \(framer.counters)")
    }

    /// A slave's line (units 1, 2, 17, 247): chunks as the first byte says,
    /// a silence after each if the second is odd. Frames delivered have a
    /// good CRC and a served unit (or 0, broadcast).
    static func rtuSlave(_ bytes: [UInt8]) {
        guard bytes.count >= 2 else { return }
        let units: Set<UInt8> = [1, 2, 17, 247]
        var framer = RTUFramer(servingUnits: units)
        var frames: [[UInt8]] = []
        for chunk in chunks(Array(bytes.dropFirst(2)), pattern: bytes[0]) {
            frames += framer.receive(chunk)
            if bytes[1] & 1 == 1, let frame = framer.silence() { frames.append(frame) }
        }
        for frame in frames {
            require(CRC16.isValid(frame) && (units.contains(frame[0]) || frame[0] == 0), "delivered \(frame)")
            _ = try? Request(pdu: frame.dropFirst().dropLast(2))
        }
        framer.timeout()
        require(framer.counters.noiseBytes >= 0, "counters \(framer.counters)")
    }

    /// A Modbus ASCII frame: what decodes encodes back to a frame that decodes the same.
    static func ascii(_ bytes: [UInt8]) {
        guard let (unit, pdu) = try? ModbusASCII.decode(bytes) else { return }
        let again = try? ModbusASCII.decode(ModbusASCII.encode(unit: unit, pdu: pdu))
        require(again?.unit == unit && again?.pdu == pdu, "\(bytes) does not survive its own encoding")
    }

    /// `bytes` cut into pieces of 1 to 16 bytes, sizes cycling from `pattern`:
    /// reads from a line or a socket split frames anywhere.
    static func chunks(_ bytes: [UInt8], pattern: UInt8) -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        var size = pattern
        while start < bytes.count {
            let end = min(bytes.count, start + 1 + Int(size % 16))
            pieces.append(bytes[start..<end])
            start = end
            size = size &* 5 &+ 3
        }
        return pieces
    }
}
