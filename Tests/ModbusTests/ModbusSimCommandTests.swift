import Foundation
import Serial
import TestSupport
import Testing
@testable import Modbus

/// `fieldgw modbus-sim` as a plant engineer runs it, read by mbpoll over TCP
/// and by our RTU master on a pty bus.
@Suite struct ModbusSimCommandTests {
    private func simulator(_ arguments: [String], announcing prefix: String) throws -> (PeerProcess, String) {
        let sim = try PeerProcess(Peers.fieldgw(), ["modbus-sim"] + arguments)
        return (sim, try sim.waitForLine(startingWith: prefix))
    }

    private func mbpoll(_ arguments: [String], port: String) throws -> Peers.Output {
        try Peers.run(Peers.program("mbpoll"), arguments + ["-1", "-p", port, "127.0.0.1"])
    }

    @Test func registersAndCoilsOverTCPForTheNamedUnitsOnly() throws {
        let (sim, port) = try simulator(["-a", "127.0.0.1:0", "--unit", "1,3", "40001-40010=7,0x10", "1-8=1,0"],
                                        announcing: "modbus-sim: Modbus/TCP on 127.0.0.1:")
        defer { sim.stop(signal: SIGKILL) }
        let registers = try mbpoll(["-a", "3", "-r", "1", "-c", "4"], port: port)
        for (reference, value) in [(1, 7), (2, 16), (3, 7), (4, 16)] {
            #expect(registers.text.contains("[\(reference)]: \t\(value)"), "\(registers.text)")
        }
        let coils = try mbpoll(["-a", "1", "-t", "0", "-r", "1", "-c", "3"], port: port)
        for (reference, value) in [(1, 1), (2, 0), (3, 1)] { #expect(coils.text.contains("[\(reference)]: \t\(value)"), "\(coils.text)") }
        let unserved = try mbpoll(["-a", "2", "-r", "1"], port: port)
        #expect(unserved.status != 0 && unserved.stderr.contains("Gateway path unavailable"), "\(unserved.text) \(unserved.stderr)")
        let outside = try mbpoll(["-a", "1", "-r", "11"], port: port)
        #expect(outside.status != 0 && outside.stderr.contains("Illegal data address"), "\(outside.stderr)")
    }

    @Test func rtuOnASerialLine() throws {
        let settings = SerialSettings(baud: 19200, parity: .odd, stopBits: 2)
        let bus = try VirtualBus(ends: 2, settings: settings)
        let (sim, _) = try simulator(["--rtu", bus.paths[1], "--parity", "odd", "--stop-bits", "2", "--unit", "5", "30001-30003=0xBEEF,2"],
                                     announcing: "modbus-sim: Modbus/RTU on ")
        defer { sim.stop(signal: SIGKILL) }
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: .seconds(1))
        #expect(try master.send(.readInputRegisters(address: 0, count: 3), unit: 5) == .registers([0xBEEF, 2, 0xBEEF]))
        #expect(throws: ModbusError.self) { try master.send(.readInputRegisters(address: 0, count: 1), unit: 6) }
    }

    @Test func aBadRegisterDefinitionIsNamed() throws {
        let output = try Peers.run(Peers.fieldgw(), ["modbus-sim", "-a", "127.0.0.1:0", "40001-30001"])
        #expect(output.status != 0)
        #expect(output.stderr.contains("register definition \"40001-30001\""), "\(output.stderr)")
    }
}
