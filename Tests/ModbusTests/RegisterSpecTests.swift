import Testing
@testable import Modbus
import TestSupport

@Suite(.ownThreads) struct RegisterSpecTests {
    @Test func aRangeFilledWithOneValue() throws {
        let spec = try RegisterSpec(parsing: "40001-40100=99")
        #expect(spec.start == ModbusAddress(table: .holdingRegisters, offset: 0))
        #expect(spec.values == Array(repeating: 99, count: 100))
    }

    @Test func valuesRepeatToFillAndHexIsRead() throws {
        #expect(try RegisterSpec(parsing: "1-5=1,0").values == [1, 0, 1, 0, 1])
        #expect(try RegisterSpec(parsing: "300001-300003=0x1F,0XffFF").values == [0x1F, 0xFFFF, 0x1F])
        #expect(try RegisterSpec(parsing: "30001-30003=0x1F").start == ModbusAddress(table: .inputRegisters, offset: 0))
    }

    @Test func valuesAloneSetTheCountAndNoValueIsZero() throws {
        #expect(try RegisterSpec(parsing: "40010=1,2,3").values == [1, 2, 3])
        #expect(try RegisterSpec(parsing: "10001-10004").values == [0, 0, 0, 0])
        #expect(try RegisterSpec(parsing: "400001").start == ModbusAddress(table: .holdingRegisters, offset: 0))
    }

    @Test func appliedToAStore() throws {
        let store = DataStore()
        try RegisterSpec(parsing: "40003-40004=7").apply(to: store)
        #expect(try store.read(.holdingRegisters, address: 2, count: 2) == [7, 7])
        #expect(throws: ModbusException.self) { try store.read(.holdingRegisters, address: 0, count: 1) }
    }

    @Test(arguments: ["", "x", "40001-", "40001-30001", "40010-40001", "40001=70000", "1-3=2", "40001=", "465536-465537", "465536=1,2"])
    func badDefinitionsSayWhy(text: String) {
        #expect(throws: RegisterSpecError.self) { try RegisterSpec(parsing: text) }
    }

    @Test func theErrorNamesTheDefinitionAndTheReason() {
        do {
            _ = try RegisterSpec(parsing: "40001=abc")
            Issue.record("accepted")
        } catch {
            #expect(error.description == "register definition \"40001=abc\": \"abc\" is not a 16-bit value (decimal or 0x hex)")
        }
    }
}
