import Testing
@testable import Modbus
import TestSupport

/// Byte layouts against the examples of the Modbus application protocol
/// specification v1.1b3 (section 6), both ways.
@Suite(.ownThreads) struct PDUTests {
    private func bytes(_ hex: String) -> [UInt8] {
        hex.split(separator: " ").map { UInt8($0, radix: 16)! }
    }

    @Test(arguments: [
        (Request.readCoils(address: 0x13, count: 0x13), "01 00 13 00 13"),
        (.readDiscreteInputs(address: 0xC4, count: 0x16), "02 00 C4 00 16"),
        (.readHoldingRegisters(address: 0x6B, count: 3), "03 00 6B 00 03"),
        (.readInputRegisters(address: 0x08, count: 1), "04 00 08 00 01"),
        (.writeSingleCoil(address: 0xAC, value: true), "05 00 AC FF 00"),
        (.writeSingleRegister(address: 1, value: 3), "06 00 01 00 03"),
        (.readExceptionStatus, "07"),
        (.diagnostics(subfunction: 0, data: [0xA5, 0x37]), "08 00 00 A5 37"),
        (.getCommEventCounter, "0B"),
        (.writeMultipleCoils(address: 0x13, values: [true, false, true, true, false, false, true, true, true, false]), "0F 00 13 00 0A 02 CD 01"),
        (.writeMultipleRegisters(address: 1, values: [0x000A, 0x0102]), "10 00 01 00 02 04 00 0A 01 02"),
        (.reportServerID, "11"),
        (.maskWriteRegister(address: 4, andMask: 0xF2, orMask: 0x25), "16 00 04 00 F2 00 25"),
        (.readWriteMultipleRegisters(readAddress: 3, readCount: 6, writeAddress: 0x0E, values: [0x00FF, 0x00FF, 0x00FF]),
         "17 00 03 00 06 00 0E 00 03 06 00 FF 00 FF 00 FF"),
        (.readDeviceIdentification(category: 1, objectID: 0), "2B 0E 01 00"),
    ])
    func requestsMatchTheSpecification(request: Request, hex: String) throws {
        #expect(request.pdu == bytes(hex))
        #expect(try Request(pdu: bytes(hex)[...]) == request)
    }

    @Test func repliesMatchTheSpecification() throws {
        let readCoils = Request.readCoils(address: 0x13, count: 0x13)
        let coils = try Response(pdu: bytes("01 03 CD 6B 05")[...], for: readCoils)
        #expect(coils == .bits(BitPacking.unpack([0xCD, 0x6B, 0x05], count: 19)))
        #expect(coils.pdu(for: readCoils) == bytes("01 03 CD 6B 05"))
        let readRegisters = Request.readHoldingRegisters(address: 0x6B, count: 3)
        #expect(try Response(pdu: bytes("03 06 02 2B 00 00 00 64")[...], for: readRegisters) == .registers([0x022B, 0, 0x64]))
        let written = Request.writeMultipleRegisters(address: 1, values: [10, 258])
        #expect(try Response(pdu: bytes("10 00 01 00 02")[...], for: written) == .writeMultiple(address: 1, count: 2))
        let exception = try Response(pdu: bytes("83 02")[...], for: readRegisters)
        #expect(exception == .exception(ModbusException(function: 3, code: .illegalDataAddress)))
        #expect(exception.pdu(for: readRegisters) == bytes("83 02"))
    }

    @Test func repliesThatDoNotFitAreMalformed() {
        let request = Request.readHoldingRegisters(address: 0, count: 2)
        for hex in ["03 02 00 01", "04 04 00 01 00 02", "03 04 00 01 00", "83", ""] {
            let error = #expect(throws: ModbusError.self) { try Response(pdu: bytes(hex)[...], for: request) }
            #expect(error?.code == .malformedReply, "\(hex)")
        }
        let echo = #expect(throws: ModbusError.self) {
            try Response(pdu: bytes("06 00 02 00 03")[...], for: .writeSingleRegister(address: 1, value: 3))
        }
        #expect(echo?.code == .malformedReply)
    }

    @Test(arguments: [
        ("01 00 00 07 D1", 3), ("03 00 00 00 7E", 3), ("03 00 00 00 00", 3), ("03 FF FF 00 02", 3),
        ("05 00 01 12 34", 3), ("0F 00 00 00 09 01 FF 01", 3), ("10 00 00 00 02 03 00 01 00 02", 3),
        ("10 00 00 00 7C F8", 3), ("03 00 00 00 01 00", 3), ("03 00 00", 3), ("2B 0E 05 00", 3),
        ("2B 0D 01 00", 1), ("09", 1), ("44 00", 1), ("8A", 1),
    ])
    func requestsOutsideTheLimitsAreExceptions(hex: String, code: UInt8) {
        let error = #expect(throws: ModbusException.self) { try Request(pdu: bytes(hex)[...]) }
        #expect(error?.code.rawValue == code, "\(hex)")
        #expect(error?.function == bytes(hex)[0] & 0x7F)
    }

    @Test func crcIsTheSpecificationsAndGoesLowByteFirst() {
        // The serial line guide's example: 01 03 00 00 00 0A carries CRC 0xCDC5, sent C5 CD.
        #expect(RTUFrame.encode(unit: 1, pdu: bytes("03 00 00 00 0A")) == bytes("01 03 00 00 00 0A C5 CD"))
        #expect(CRC16.isValid(bytes("01 03 00 00 00 0A C5 CD")))
        #expect(!CRC16.isValid(bytes("01 03 00 00 00 0B C5 CD")))
        #expect(CRC16.checksum(Array("123456789".utf8)) == 0x4B37, "CRC-16/MODBUS check value")
    }

    @Test func asciiFramesCarryAnLRC() throws {
        // The serial line guide's example: unit F7, read 10 registers from 0x1389: LRC 0x60.
        let frame = ModbusASCII.encode(unit: 0xF7, pdu: bytes("03 13 89 00 0A"))
        #expect(String(decoding: frame, as: UTF8.self) == ":F7031389000A60\r\n")
        let decoded = try ModbusASCII.decode(frame)
        #expect(decoded.unit == 0xF7 && decoded.pdu == bytes("03 13 89 00 0A"))
        #expect(throws: ModbusASCII.DecodeError.self) { try ModbusASCII.decode(Array(":F7031389000A61\r\n".utf8)) }
        #expect(throws: ModbusASCII.DecodeError.self) { try ModbusASCII.decode(Array("F7031389000A60\r\n".utf8)) }
    }

    @Test(arguments: [
        (1, Table.coils, 0), (9999, .coils, 9998), (10001, .discreteInputs, 0), (100_001, .discreteInputs, 0),
        (165_536, .discreteInputs, 65535), (30001, .inputRegisters, 0), (365_536, .inputRegisters, 65535),
        (40001, .holdingRegisters, 0), (99999, .holdingRegisters, 59998), (465_536, .holdingRegisters, 65535),
    ])
    func addressesAreCpppos(number: Int, table: Table, offset: Int) {
        #expect(ModbusAddress(number) == ModbusAddress(table: table, offset: UInt16(offset)))
    }

    @Test(arguments: [0, 10000, 20000, 29999, 165_537, 200_000, 465_537])
    func addressesOutsideTheTablesAreRefused(number: Int) {
        #expect(ModbusAddress(number) == nil)
    }
}
