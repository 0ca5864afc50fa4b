import Foundation
import Gateway
import Serial
import TestSupport
import Testing
@testable import Modbus

/// Our RTU master and slave against real peers on ptys: pymodbus's serial
/// server and client on a VirtualBus, mbpoll (libmodbus) over a socat pair.
/// Parity is none: a pty refuses parity through glibc's tcsetattr, which
/// pyserial and libmodbus use.
@Suite(.ownThreads) struct RTUInteropTests {
    private let settings = SerialSettings(baud: 19200, parity: .none)

    private func device() -> ModbusDevice {
        let store = DataStore()
        store.define(.holdingRegisters, at: 0, values: Array(0..<10))
        store.define(.coils, at: 0, values: Array(repeating: 0, count: 8))
        return ModbusDevice(store: store)
    }

    @Test func ourMasterAgainstPymodbusSlave() throws {
        let bus = try VirtualBus(ends: 2, settings: settings)
        let slave = try PeerProcess(Peers.python(), [peer("pymodbus_server.py"), "rtu", bus.paths[1], "19200"])
        defer { slave.stop() }
        _ = try slave.waitForLine(startingWith: "ready ")
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: .seconds(1))
        #expect(try master.send(.readHoldingRegisters(address: 0, count: 5), unit: 1) == .registers([0, 1, 2, 3, 4]))
        #expect(try master.send(.writeMultipleRegisters(address: 3, values: [33, 44]), unit: 1) == .writeMultiple(address: 3, count: 2))
        #expect(try master.send(.readHoldingRegisters(address: 2, count: 3), unit: 1) == .registers([2, 33, 44]))
        #expect(try master.send(.writeSingleCoil(address: 1, value: true), unit: 1) == .writeSingleCoil(address: 1, value: true))
        #expect(try master.send(.readCoils(address: 0, count: 3), unit: 1) == .bits([false, true, false]))
        #expect(try master.send(.readHoldingRegisters(address: 500, count: 1), unit: 1) == .exception(.init(function: 3, code: .illegalDataAddress)))
        #expect(master.counters.crcErrors == 0 && master.counters.timeouts == 0)
    }

    @Test func pymodbusMasterAgainstOurSlave() throws {
        let bus = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: device()]))
        defer { slave.stop() }
        let output = try Peers.run(Peers.python(), [peer("pymodbus_client.py"), "rtu", bus.paths[0], "19200"])
        try expectPymodbusSawOurDevice(output)
    }

    @Test func mbpollAgainstOurSlaveOverSocat() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-socat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let ours = directory.appendingPathComponent("slave").path
        let theirs = directory.appendingPathComponent("master").path
        let socat = try PeerProcess(Peers.program("socat"), ["-d", "-d", "pty,raw,echo=0,link=\(ours)", "pty,raw,echo=0,link=\(theirs)"])
        defer { socat.stop(signal: SIGKILL) }
        try socat.waitForError(containing: "starting data transfer loop")
        let slave = SlaveThread(path: ours, settings: settings, units: UnitMap(devices: [1: device()]))
        defer { slave.stop() }
        let read = try Peers.run(Peers.program("mbpoll"), ["-m", "rtu", "-a", "1", "-b", "19200", "-P", "none", "-r", "2", "-c", "3", "-1", theirs])
        #expect(read.status == 0, "\(read.stderr)")
        for (register, value) in [(2, 1), (3, 2), (4, 3)] { #expect(read.text.contains("[\(register)]: \t\(value)"), "\(read.text)") }
        let write = try Peers.run(Peers.program("mbpoll"), ["-m", "rtu", "-a", "1", "-b", "19200", "-P", "none", "-r", "5", theirs, "4242"])
        #expect(write.status == 0 && write.text.contains("Written 1 references"), "\(write.text) \(write.stderr)")
        let check = try Peers.run(Peers.program("mbpoll"), ["-m", "rtu", "-a", "1", "-b", "19200", "-P", "none", "-r", "5", "-c", "1", "-1", theirs])
        #expect(check.text.contains("[5]: \t4242"), "\(check.text)")
    }
}
