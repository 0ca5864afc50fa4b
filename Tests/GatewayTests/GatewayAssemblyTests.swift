import Foundation
import Gateway
import Logging
import Modbus
import NIOPosix
import Serial
import TestSupport
import Testing

/// Serial registers as Class 1 I/O, from end to end: EIPScanner (the PLC's
/// part, through Tests/Peers/eip_originator.cpp) → the gateway's
/// `[[assembly]]` tables → the poller's cache (inputs) and the line
/// (outputs) → an RTU slave on a pty. EIPScanner listens for inputs on UDP
/// port 2222 of every address: this suite runs alone in its process, and
/// EtherNetIPTests' EIPScanner suite in another.
@Suite(.serialized) struct GatewayAssemblyTests {
    private func configuration(line path: String) throws -> Configuration {
        try Configuration(toml: """
            [status]
            enabled = false
            [enip]
            bind = "127.0.0.1:0"
            [enip.io]
            bind = "127.0.0.1:0"
            [[line]]
            name = "rtu"
            adapter = "\(path)"
            baud = 38400
            parity = "none"
            [[assembly]]
            instance = 100
            role = "input"
            period_s = 0.05
            max_age_s = 0.5
              [[assembly.member]]
              line = "rtu"
              slave = 1
              name = "Level"
              register = "40001"
              [[assembly.member]]
              line = "rtu"
              slave = 1
              name = "Count"
              register = "40003"
              type = "DINT"
            [[assembly]]
            instance = 150
            role = "output"
            on_timeout = "safe"
              [[assembly.member]]
              line = "rtu"
              slave = 1
              name = "Setpoint"
              register = "40005"
              safe = 3
            [[assembly]]
            instance = 151
            role = "configuration"
            """, file: "assemblies.toml")
    }

    @Test func aScannerReadsAndWritesASlavesRegistersThroughAssemblies() async throws {
        let settings = SerialSettings(baud: 38400, parity: .none)
        let line = try VirtualBus(ends: 2, settings: settings)
        let device = ModbusDevice()
        device.store.define(.holdingRegisters, at: 0, values: [7, 0, 0, 0, 0, 0, 0, 0])
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: device]))
        defer { slave.stop() }
        let service = try await GatewayService.start(try configuration(line: line.paths[0]), group: MultiThreadedEventLoopGroup.singleton,
                                                     logger: Logger(label: "test.gateway"))
        defer { Task { await service.stop() } }
        let port = try #require(service.enipServer?.port)
        // Input 100: a status byte, Level (INT), Count (DINT); output 150: Setpoint (INT).
        let scanner = try PeerProcess(Peers.built("eip_originator"), ["127.0.0.1", "\(port)", "151", "150", "100", "2", "7", "10", "2"])
        defer { scanner.stop(signal: SIGKILL) }
        func expect(_ prefix: String) async throws { _ = try await offPool { try scanner.waitForLine(startingWith: prefix, timeout: 30) } }
        func register(_ number: Int) -> UInt16? { device.store.value(at: ModbusAddress(number)!) }
        func eventually(_ condition: () -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(15)
            while !condition() {
                guard ContinuousClock.now < deadline else { return false }
                try await Task.sleep(for: .milliseconds(10))
            }
            return true
        }

        try await expect("open ok")
        try await expect("in 00070000000000")
        // The slave's registers change: the inputs follow (Count high word first, as Modbus has it).
        try device.store.write(.holdingRegisters, address: 0, values: [42])
        try device.store.write(.holdingRegisters, address: 2, values: [1, 2])
        try await expect("in 002a0002000100")

        // Outputs reach the slave's register; when the scanner falls silent, the safe value does.
        scanner.send("out 6400")
        #expect(try await eventually { register(40005) == 100 })
        scanner.send("stop")
        #expect(try await eventually { register(40005) == 3 })
        try await expect("closed")

        // The slave goes away: its status bit is set and its members read 0, never a stale value.
        scanner.send("reopen")
        try await expect("open ok")
        slave.stop()
        try await expect("in 01000000000000")
    }
}
