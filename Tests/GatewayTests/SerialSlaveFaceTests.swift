import Foundation
@testable import Gateway
import Logging
import NIOPosix
import Serial
import TestSupport
import Testing

/// The gateway as a serial slave: minimalmodbus and pymodbus, serial RTU
/// masters on a pty, reach a pymodbus Modbus/TCP server through a tcp line;
/// a unit whose line is down is silence, or the gateway's exception when so configured.
@Suite(.serialized, .ownThreads) struct SerialSlaveFaceTests {
    @Test(arguments: [Configuration.SerialSlave.Absent.silence, .exception])
    func serialMastersReachAModbusTCPDeviceThroughTheGateway(absent: Configuration.SerialSlave.Absent) async throws {
        let script = Peers.packageRoot.appendingPathComponent("Tests/ModbusTests/Peers/pymodbus_server.py").path
        let server = try PeerProcess(Peers.python(), [script, "tcp"])
        defer { server.stop() }
        let port = try server.waitForLine(startingWith: "ready ")
        let wire = try VirtualBus(ends: 2, settings: SerialSettings(baud: 19200, parity: .none))
        let configuration = try Configuration(toml: """
            [web]
            enabled = false
            [[line]]
            name = "plc"
            kind = "tcp"
            address = "127.0.0.1:\(port)"
            timeout_min_ms = 1000
            timeout_max_ms = 2000
            [[line]]
            name = "gone"
            kind = "tcp"
            address = "127.0.0.1:\(try Peers.freePort())"
            connect_timeout_ms = 200
            [[route]]
            units = "1"
            line = "plc"
            [[route]]
            units = "2"
            line = "gone"
            offset = 1
            [[serial_slave]]
            adapter = "\(wire.paths[0])"
            baud = 19200
            parity = "none"
            units = "1-2"
            absent = "\(absent.rawValue)"
            """, file: "serial-slave.toml")
        let service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test.face"))
        let masters = Peers.packageRoot.appendingPathComponent("Tests/GatewayTests/Peers/serial_masters.py").path
        let output = try await offPool { try Peers.run(Peers.python(), [masters, wire.paths[1]]) }
        let seen = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: [String: Any]], "\(output.text) \(output.stderr)")
        for (library, written) in [("minimalmodbus", 555), ("pymodbus", 556)] {
            let result = try #require(seen[library])
            #expect("\(result["read"]!)" == "[0, 1, 2, 3, 4]" && result["after_write"] as? Int == written, "\(library): \(result)")
            #expect(result["absent"] as? String == absent.rawValue, "\(library): unit 2 gave \(result["absent"]!)")
        }
        await service.stop()
    }
}

@Suite(.ownThreads) struct SerialSlaveConfigurationTests {
    private func configuration(_ slave: String) throws -> Configuration {
        try Configuration(toml: """
            [[line]]
            name = "a"
            adapter = "/dev/ttyS0"
            [[route]]
            units = "1-3"
            line = "a"
            [[serial_slave]]
            \(slave)
            """, file: "s.toml")
    }

    @Test func aSerialSlaveIsEnoughOfAFace() throws {
        let face = try configuration("adapter = \"/dev/ttyS1\"\nunits = \"1-3\"\nbaud = 9600\nparity = \"none\"")
        #expect(face.serialSlaves.first == Configuration.SerialSlave(adapter: .node(pattern: "/dev/ttyS1"),
                                                                    settings: SerialSettings(baud: 9600, parity: .none), rs485: nil,
                                                                    units: 1...3, absent: .silence))
        #expect(face.listeners.isEmpty)
    }

    @Test(arguments: [
        ("adapter = \"/dev/ttyS1\"\nunits = \"1-4\"", "s.toml: serial_slave[0].units: unit 4 has no [[route]] to a line"),
        ("adapter = \"/dev/ttyS0\"\nunits = \"1\"", "s.toml: serial_slave[0].adapter: /dev/ttyS0 is a [[line]]'s adapter too"),
        ("adapter = \"/dev/ttyS1\"\nunits = \"1\"\nabsent = \"shrug\"", "s.toml: serial_slave[0].absent: \"shrug\" is not one of silence, exception"),
        ("units = \"1\"", "s.toml: serial_slave[0].adapter: is required"),
    ])
    func aBadSerialSlaveIsNamed(keys: String, reason: String) {
        let error = #expect(throws: ConfigurationError.self) { try configuration(keys) }
        #expect(error?.description == reason)
    }
}
