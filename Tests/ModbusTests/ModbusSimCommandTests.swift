import Foundation
import Gateway
import Serial
import TestSupport
import Testing
@testable import Modbus

/// `fieldgw modbus-sim` as a plant engineer runs it, read by mbpoll over TCP
/// and by our RTU master on a pty bus.
@Suite(.ownThreads) struct ModbusSimCommandTests {
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
        let started = try sim.waitForLine(startingWith: "Success; Started Modbus/TCP Simulator; PID = ")
        #expect(started == "\(sim.processIdentifier); address = 127.0.0.1:\(port)", "cpppo's line: \(started)")
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
        // cpppo's line, which scripts written for its modbus_sim wait for.
        let started = try sim.waitForLine(startingWith: "Success; Started Modbus/RTU Simulator; PID = ")
        #expect(started == "\(sim.processIdentifier); address = \(bus.paths[1])", "\(started)")
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: .seconds(1))
        #expect(try master.send(.readInputRegisters(address: 0, count: 3), unit: 5) == .registers([0xBEEF, 2, 0xBEEF]))
        #expect(throws: ModbusError.self) { try master.send(.readInputRegisters(address: 0, count: 1), unit: 6) }
    }

    @Test func aBadRegisterDefinitionIsNamed() throws {
        let output = try Peers.run(Peers.fieldgw(), ["modbus-sim", "-a", "127.0.0.1:0", "40001-30001"])
        #expect(output.status != 0)
        #expect(output.stderr.contains("register definition \"40001-30001\""), "\(output.stderr)")
    }

    @Test func theClientReadsAndWritesTheSimulatorOverTCP() throws {
        let (sim, port) = try simulator(["-a", "127.0.0.1:0", "40001-40003=7,0x10", "1-4=1,0"],
                                        announcing: "modbus-sim: Modbus/TCP on 127.0.0.1:")
        defer { sim.stop(signal: SIGKILL) }
        let client = try Peers.run(Peers.fieldgw(), ["modbus-client", "-a", "127.0.0.1:\(port)", "40001-40002", "2-3", "40002=99,98", "40001-40003"])
        #expect(client.status == 0, "\(client.stderr)")
        #expect(client.text == """
            400001 = 7
            400002 = 16
            2 = 0
            3 = 1
            40002=99,98: written
            400001 = 7
            400002 = 99
            400003 = 98

            """)
        let missing = try Peers.run(Peers.fieldgw(), ["modbus-client", "-a", "127.0.0.1:\(port)", "40009"])
        #expect(missing.status == 1 && missing.text == "40009: exception illegal data address (2)\n", "\(missing.text)")
    }

    /// As a service's own user, with no capabilities: the client once asked
    /// for SO_DEBUG (TCP_NODELAY's number at the socket level), which only
    /// CAP_NET_ADMIN may set, and failed for every user but root.
    @Test func theClientRunsWithoutPrivileges() throws {
        let (sim, port) = try simulator(["-a", "127.0.0.1:0", "40001=5"], announcing: "modbus-sim: Modbus/TCP on 127.0.0.1:")
        defer { sim.stop(signal: SIGKILL) }
        let client = ["modbus-client", "-a", "127.0.0.1:\(port)", "40001"]
        let unprivileged = getuid() == 0
            ? try Peers.run(Peers.program("setpriv"), ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                                       "--bounding-set=-all", try Peers.fieldgw()] + client)
            : try Peers.run(Peers.fieldgw(), client)
        #expect(unprivileged.status == 0 && unprivileged.text == "400001 = 5\n", "\(unprivileged.text) \(unprivileged.stderr)")
    }

    @Test func theClientOverRTU() throws {
        let settings = SerialSettings(baud: 19200, parity: .even)
        let bus = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [4: holdingDevice([5, 6])]))
        defer { slave.stop() }
        let client = try Peers.run(Peers.fieldgw(), ["modbus-client", "--rtu", bus.paths[0], "--unit", "4", "40001=3", "40001-40002", "1"])
        #expect(client.status == 0 && client.text == "40001=3: written\n400001 = 3\n400002 = 6\n1 = 0\n", "\(client.text) \(client.stderr)")
        let silent = try Peers.run(Peers.fieldgw(), ["modbus-client", "--rtu", bus.paths[0], "--unit", "9", "--timeout", "0.2", "40001"])
        #expect(silent.status == 1 && silent.text == "40001: timeout: no valid reply within 0.2 seconds\n", "\(silent.text)")
    }

    @Test func aWriteToAReadOnlyTableIsRefused() throws {
        let output = try Peers.run(Peers.fieldgw(), ["modbus-client", "30001=5"])
        #expect(output.status != 0 && output.stderr.contains("only coils and holding registers can be written"), "\(output.stderr)")
    }

    /// The simulator as a device behind a serial device server (raw RTU over
    /// TCP), and the client talking to it that way.
    @Test func rtuOverTCPBetweenTheClientAndTheSimulator() throws {
        let (sim, announced) = try simulator(["--rtu-over-tcp", "127.0.0.1:0", "--unit", "3", "40001-40003=7"],
                                             announcing: "modbus-sim: Modbus/RTU over TCP on 127.0.0.1:")
        defer { sim.stop(signal: SIGKILL) }
        let address = "127.0.0.1:\(announced)"
        let client = try Peers.run(Peers.fieldgw(), ["modbus-client", "--rtu-over-tcp", address, "--unit", "3", "40002=9", "40001-40003"])
        #expect(client.status == 0 && client.text == "40002=9: written\n400001 = 7\n400002 = 9\n400003 = 7\n", "\(client.text) \(client.stderr)")
        // A client that has gone leaves the simulator to the next one; another unit stays silent.
        let silent = try Peers.run(Peers.fieldgw(), ["modbus-client", "--rtu-over-tcp", address, "--unit", "4", "--timeout", "0.3", "40001"])
        #expect(silent.status == 1 && silent.text.hasPrefix("40001: timeout"), "\(silent.text) \(silent.stderr)")
    }

    /// Modbus ASCII on a pty bus: the simulator answers, the client asks.
    @Test func asciiBetweenTheClientAndTheSimulator() throws {
        let bus = try VirtualBus(ends: 2, settings: SerialSettings(baud: 9600, parity: .none))
        let (sim, _) = try simulator(["--ascii", "--rtu", bus.paths[1], "--baud", "9600", "--parity", "none", "--unit", "2", "40001-40002=0xABCD,5"],
                                     announcing: "modbus-sim: Modbus ASCII on ")
        defer { sim.stop(signal: SIGKILL) }
        let client = try Peers.run(Peers.fieldgw(), ["modbus-client", "--ascii", "--rtu", bus.paths[0], "--baud", "9600", "--parity", "none",
                                                      "--unit", "2", "40001-40002", "40002=6", "40002"])
        #expect(client.status == 0 && client.text == "400001 = 43981\n400002 = 5\n40002=6: written\n400002 = 6\n", "\(client.text) \(client.stderr)")
    }
}
