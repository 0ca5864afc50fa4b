import Testing
@testable import Modbus
import TestSupport

@Suite(.ownThreads) struct ModbusDeviceTests {
    private func device() -> ModbusDevice {
        let store = DataStore()
        store.define(.holdingRegisters, at: 0, values: Array(0..<100))
        store.define(.coils, at: 10, values: [1, 0, 1])
        store.define(.inputRegisters, at: 5, values: [7])
        return ModbusDevice(store: store, identification: [0: "Acme", 1: "PX-1", 2: "2.1", 4: "Pump"])
    }

    @Test func readsAndWritesTheStore() {
        let unit = device()
        #expect(unit.respond(to: .readHoldingRegisters(address: 98, count: 2)) == .registers([98, 99]))
        #expect(unit.respond(to: .readCoils(address: 10, count: 3)) == .bits([true, false, true]))
        #expect(unit.respond(to: .writeMultipleRegisters(address: 1, values: [5, 6])) == .writeMultiple(address: 1, count: 2))
        #expect(unit.respond(to: .readHoldingRegisters(address: 0, count: 3)) == .registers([0, 5, 6]))
        #expect(unit.respond(to: .writeSingleCoil(address: 11, value: true)) == .writeSingleCoil(address: 11, value: true))
        #expect(unit.store.value(at: ModbusAddress(12)!) == 1)
    }

    /// The store keeps pages of 256 addresses: reads and writes across a
    /// page's edge, and at the top of the address space, are no different.
    @Test func theStoreAcrossPagesAndAtTheTop() throws {
        let store = DataStore()
        store.define(.inputRegisters, at: 0x00FE, values: [1, 2, 3, 4])
        store.define(.inputRegisters, at: 0xFFFE, values: [7, 8, 9])
        #expect(try store.read(.inputRegisters, address: 0x00FE, count: 4) == [1, 2, 3, 4])
        #expect(try store.read(.inputRegisters, address: 0xFFFE, count: 2) == [7, 8])
        #expect(store.count(.inputRegisters) == 6, "the value past 0xFFFF is not defined")
        #expect(throws: ModbusException.self) { try store.read(.inputRegisters, address: 0x00FD, count: 2) }
        try store.write(.inputRegisters, address: 0x00FF, values: [20, 21])
        #expect(try store.read(.inputRegisters, address: 0x00FE, count: 4) == [1, 20, 21, 4])
        #expect(store.count(.inputRegisters) == 6 && store.count(.holdingRegisters) == 0)
    }

    @Test func undefinedAddressesAreExceptionTwoAndWriteNothing() {
        let unit = device()
        #expect(unit.respond(to: .readHoldingRegisters(address: 99, count: 2)) == .exception(.init(function: 3, code: .illegalDataAddress)))
        #expect(unit.respond(to: .writeMultipleRegisters(address: 98, values: [1, 2, 3])) == .exception(.init(function: 16, code: .illegalDataAddress)))
        #expect(unit.respond(to: .readHoldingRegisters(address: 98, count: 2)) == .registers([98, 99]), "a refused write leaves the store alone")
        #expect(unit.respond(to: .readInputRegisters(address: 4, count: 1)) == .exception(.init(function: 4, code: .illegalDataAddress)))
    }

    @Test func maskWriteFollowsTheSpecificationsExample() {
        let unit = device()
        unit.store.define(.holdingRegisters, at: 4, values: [0x12])
        #expect(unit.respond(to: .maskWriteRegister(address: 4, andMask: 0xF2, orMask: 0x25)) == .maskWriteRegister(address: 4, andMask: 0xF2, orMask: 0x25))
        #expect(unit.store.value(at: ModbusAddress(40005)!) == 0x17)
    }

    @Test func readWriteWritesFirst() {
        let unit = device()
        #expect(unit.respond(to: .readWriteMultipleRegisters(readAddress: 0, readCount: 3, writeAddress: 1, values: [42])) == .registers([0, 42, 2]))
    }

    @Test func diagnosticsEchoAndCountersCount() {
        let unit = device()
        #expect(unit.respond(to: .diagnostics(subfunction: 0, data: [1, 2])) == .diagnostics(subfunction: 0, data: [1, 2]))
        #expect(unit.respond(to: .diagnostics(subfunction: 1, data: [0, 0])) == .exception(.init(function: 8, code: .illegalFunction)))
        #expect(unit.respond(to: .getCommEventCounter) == .commEventCounter(status: 0, count: 1), "one success; exceptions do not count")
        #expect(unit.respond(to: .readExceptionStatus) == .exceptionStatus(0))
        #expect(unit.respond(to: .reportServerID) == .serverID(id: Array("fieldgw".utf8), running: true))
    }

    /// The benchmark found this: the 65,536th request trapped on overflow and took the server down.
    @Test func theEventCounterWrapsAt65536() {
        let unit = device()
        for _ in 0..<65_537 { _ = unit.respond(to: .readExceptionStatus) }
        #expect(unit.respond(to: .getCommEventCounter) == .commEventCounter(status: 0, count: 1))
    }

    @Test func deviceIdentificationByCategoryAndObject() {
        let unit = device()
        let basic = unit.respond(to: .readDeviceIdentification(category: 1, objectID: 0))
        #expect(basic == .deviceIdentification(DeviceIdentification(category: 1, conformity: 0x82, objects: [
            .init(id: 0, value: Array("Acme".utf8)), .init(id: 1, value: Array("PX-1".utf8)), .init(id: 2, value: Array("2.1".utf8)),
        ])))
        let regular = unit.respond(to: .readDeviceIdentification(category: 2, objectID: 2))
        guard case .deviceIdentification(let identification) = regular else { Issue.record("\(regular)"); return }
        #expect(identification.objects.map(\.id) == [2, 4])
        #expect(unit.respond(to: .readDeviceIdentification(category: 4, objectID: 4))
                == .deviceIdentification(DeviceIdentification(category: 4, conformity: 0x82, objects: [.init(id: 4, value: Array("Pump".utf8))])))
        #expect(unit.respond(to: .readDeviceIdentification(category: 4, objectID: 9)) == .exception(.init(function: 0x2B, code: .illegalDataAddress)))
        #expect(unit.respond(to: .readDeviceIdentification(category: 3, objectID: 0)) == .exception(.init(function: 0x2B, code: .illegalDataAddress)))
    }

    @Test func unitsShareAStoreOrHaveTheirOwn() {
        let shared = DataStore()
        shared.define(.holdingRegisters, at: 0, values: [1])
        let own = DataStore()
        own.define(.holdingRegisters, at: 0, values: [2])
        let map = UnitMap(devices: [1: ModbusDevice(store: shared), 2: ModbusDevice(store: shared), 3: ModbusDevice(store: own)])
        _ = map.device(for: 1)?.respond(to: .writeSingleRegister(address: 0, value: 9))
        #expect(map.device(for: 2)?.respond(to: .readHoldingRegisters(address: 0, count: 1)) == .registers([9]))
        #expect(map.device(for: 3)?.respond(to: .readHoldingRegisters(address: 0, count: 1)) == .registers([2]))
        #expect(map.device(for: 4) == nil && map.units == [1, 2, 3])
    }
}
