import Foundation
import Gateway
import NIOPosix
import Serial
import TestSupport
import Testing
@testable import Modbus

/// The simulator's `--evil` faults: what each does to a reply's bytes, and
/// what a master sees of them on a live connection or bus.
@Suite(.ownThreads) struct ModbusFaultTests {
    /// Transaction 1, unit 1, read holding registers: one register, 7.
    private let tcpReply: [UInt8] = [0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 7]
    private let rtuReply = RTUFrame.encode(unit: 1, pdu: [3, 2, 0, 7])

    @Test(arguments: [
        ("truncate", ModbusFault.truncate), ("delay", .delay(5...5)), ("delay:0.25", .delay(0.25...0.25)),
        ("delay:0.1-0.5", .delay(0.1...0.5)), ("corrupt", .corrupt(.transaction)), ("corrupt:registers", .corrupt(.registers)),
        ("silent", .silent(1)), ("silent:0.25", .silent(0.25)),
    ])
    func faultsAreWrittenAsCpppoWritesThem(text: String, fault: ModbusFault) throws {
        #expect(try ModbusFault(parsing: text) == fault)
    }

    @Test(arguments: ["explode", "truncate:3", "delay:x", "delay:0.5-0.1", "delay:-1", "delay:1-2-3", "corrupt:crcx", "silent:2", ""])
    func aBadFaultIsNamedWithItsReason(text: String) {
        let error = #expect(throws: ModbusFaultError.self) { try ModbusFault(parsing: text) }
        #expect(error?.text == text && error?.reason.isEmpty == false)
    }

    @Test func eachCorruptionDamagesItsFieldOfAModbusTCPReply() {
        #expect([ModbusFault.corrupt(.transaction)].damageTCP(tcpReply) == [0, 0, 0, 0, 0, 5, 1, 3, 2, 0, 7])
        #expect([ModbusFault.corrupt(.protocol)].damageTCP(tcpReply) == [0, 1, 0, 1, 0, 5, 1, 3, 2, 0, 7])
        #expect([ModbusFault.corrupt(.unit)].damageTCP(tcpReply) == [0, 1, 0, 0, 0, 5, 0, 3, 2, 0, 7])
        #expect([ModbusFault.corrupt(.function)].damageTCP(tcpReply) == [0, 1, 0, 0, 0, 5, 1, 2, 2, 0, 7])
        #expect([ModbusFault.corrupt(.registers)].damageTCP(tcpReply) == [0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 7, 0xEE, 0xEE])
        #expect([ModbusFault.truncate].damageTCP(tcpReply) == Array(tcpReply[0..<5]))
        #expect([ModbusFault.corrupt(.crc), .delay(0...0)].damageTCP(tcpReply) == tcpReply, "TCP has no CRC; a delay changes no byte")
    }

    @Test func onRTUTheCRCIsWrongOnlyWhenTheCRCIsCorrupted() {
        let flipped = [ModbusFault.corrupt(.crc)].damageRTU(rtuReply)
        #expect(flipped.count == rtuReply.count && !CRC16.isValid(flipped))
        #expect([ModbusFault.corrupt(.unit)].damageRTU(rtuReply) == RTUFrame.encode(unit: 0, pdu: [3, 2, 0, 7]))
        #expect([ModbusFault.corrupt(.registers)].damageRTU(rtuReply) == RTUFrame.encode(unit: 1, pdu: [3, 4, 0, 7, 0xEE, 0xEE]))
        #expect([ModbusFault.truncate].damageRTU(rtuReply) == Array(rtuReply[0..<3]))
        let write = RTUFrame.encode(unit: 1, pdu: [6, 0, 1, 0, 9])
        #expect([ModbusFault.corrupt(.registers)].damageRTU(write) == write, "a write's reply has no byte count to grow")
    }

    @Test func aLiveServerSendsTheDamagedBytes() async throws {
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice([7]))),
                                                     group: MultiThreadedEventLoopGroup.singleton, faults: [.corrupt(.transaction), .truncate])
        let connection = try RawConnection(port: server.port)
        connection.send([0x12, 0x34, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1])
        #expect(connection.receive(count: 11) == [0x12, 0x35, 0, 0, 0], "the transaction id is wrong and the reply stops half way")
        try await server.close()
    }

    @Test func pipelinedRepliesAreDamagedOneByOne() async throws {
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice([7]))),
                                                     group: MultiThreadedEventLoopGroup.singleton, faults: [.corrupt(.transaction)])
        let connection = try RawConnection(port: server.port)
        connection.send([0, 2, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1] + [0, 4, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1])
        #expect(connection.receive(count: 22) == [0, 3, 0, 0, 0, 5, 1, 3, 2, 0, 7] + [0, 5, 0, 0, 0, 5, 1, 3, 2, 0, 7])
        try await server.close()
    }

    @Test func aDelayedServerAnswersWithinItsRange() async throws {
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice([7]))),
                                                     group: MultiThreadedEventLoopGroup.singleton, faults: [.delay(0.2...0.3)])
        // Timed on a blocking socket: an await would time the test's own wait
        // for a thread too, which other tests may hold.
        let connection = try RawConnection(port: server.port)
        let start = ContinuousClock.now
        connection.send([0, 9, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1])
        #expect(connection.receive(count: 11) == [0, 9, 0, 0, 0, 5, 1, 3, 2, 0, 7])
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(200) && elapsed < .milliseconds(1500), "\(elapsed)")
        try await server.close()
    }

    @Test func anRTUMasterCountsACorruptedCRCAndTimesOut() throws {
        let settings = SerialSettings(baud: 19200)
        let bus = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([7])]),
                                faults: [.corrupt(.crc)])
        defer { slave.stop() }
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: .milliseconds(300))
        let error = #expect(throws: ModbusError.self) { try master.send(.readHoldingRegisters(address: 0, count: 1), unit: 1) }
        #expect(error?.code == .timeout)
        #expect(master.counters.crcErrors >= 1 && master.counters.frames == 0, "\(master.counters)")
    }

    @Test func aSilentSlaveSendsNothingAtAll() throws {
        #expect([ModbusFault.silent(1)].staysSilent() && ![ModbusFault.silent(0), .truncate].staysSilent())
        let settings = SerialSettings(baud: 19200)
        let bus = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([7])]), faults: [.silent(1)])
        defer { slave.stop() }
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: .milliseconds(200))
        let error = #expect(throws: ModbusError.self) { try master.send(.readHoldingRegisters(address: 0, count: 1), unit: 1) }
        #expect(error?.code == .timeout && master.counters.noiseBytes == 0 && master.counters.crcErrors == 0, "\(master.counters)")
    }

    @Test func theSimulatorTakesEvilOptionsAndRefusesBadOnes() throws {
        let sim = try PeerProcess(Peers.fieldgw(), ["modbus-sim", "-a", "127.0.0.1:0", "--evil", "delay:0.2-0.3", "40001=5"])
        defer { sim.stop(signal: SIGKILL) }
        let port = try sim.waitForLine(startingWith: "modbus-sim: Modbus/TCP on 127.0.0.1:")
        let start = ContinuousClock.now
        let client = try Peers.run(Peers.fieldgw(), ["modbus-client", "-a", "127.0.0.1:\(port)", "--timeout", "2", "40001"])
        #expect(client.text == "400001 = 5\n" && ContinuousClock.now - start >= .milliseconds(200), "\(client.text) \(client.stderr)")

        let unknown = try Peers.run(Peers.fieldgw(), ["modbus-sim", "-a", "127.0.0.1:0", "--evil", "delay:fast"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--evil \"delay:fast\": the delay is SECONDS"), "\(unknown.stderr)")
        let bus = try VirtualBus(ends: 2, settings: SerialSettings(baud: 19200))
        let noTransaction = try Peers.run(Peers.fieldgw(), ["modbus-sim", "--rtu", bus.paths[1], "--evil", "corrupt:transaction"])
        #expect(noTransaction.status != 0 && noTransaction.stderr.contains("Modbus/RTU replies have no such field"), "\(noTransaction.stderr)")
    }
}
