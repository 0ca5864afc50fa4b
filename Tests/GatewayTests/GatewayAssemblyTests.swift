import Foundation
import Gateway
import Logging
import Modbus
import NIOPosix
import Prometheus
import Serial
import TestSupport
import Testing
import EtherNetIP

/// Serial registers as Class 1 I/O, from end to end: EIPScanner (the PLC's
/// part, through Tests/Peers/eip_originator.cpp) → the gateway's
/// `[[assembly]]` tables → the poller's cache (inputs) and the line
/// (outputs) → an RTU slave on a pty. EIPScanner listens for inputs on UDP
/// port 2222 of every address: its test holds `EIPScannerPort`, as
/// EtherNetIPTests' EIPScanner suite does.
@Suite(.serialized, .ownThreads) struct GatewayAssemblyTests {
    private func configuration(line path: String) throws -> Configuration {
        try Configuration(toml: try toml(line: path), file: "assemblies.toml")
    }

    private func toml(line path: String) throws -> String {
        """
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
            """
    }

    /// `fieldgw eds` writes a sheet eds-pie (a parser that checks entries
    /// against the CIP library of EDS keywords) reads without a fault, and
    /// a Forward Open on each connection path it names is accepted.
    @Test func theEDSDescribesTheAssembliesAndItsConnectionsOpen() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-eds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let line = try VirtualBus(ends: 2, settings: SerialSettings(baud: 38400, parity: .none))
        let configuration = directory.appendingPathComponent("io.toml").path, sheet = directory.appendingPathComponent("io.eds").path
        let toml = try self.toml(line: line.paths[0])
        try toml.write(toFile: configuration, atomically: true, encoding: .utf8)
        let written = try Peers.run(Peers.fieldgw(), ["eds", "--config", configuration, "--output", sheet])
        #expect(written.status == 0, "\(written.stderr)")
        let read = try Peers.run(Peers.python(), [Peers.packageRoot.appendingPathComponent("Tests/GatewayTests/Peers/eds_check.py").path, sheet])
        #expect(read.status == 0, "\(read.text)\(read.stderr)")
        let identity = Configuration.defaultIdentity
        for expected in ["VendCode=\(identity.vendor)", "ProdCode=\(identity.productCode)", "MajRev=20", "MinRev=11", "Assem100=7", "Assem150=2",
                         "Assem151=0", "Connection1=Exclusive Owner 150/100|0x04030002|0x44640405|20 04 24 97 2C 96 2C 64",
                         "Connection2=Input Only 100|0x02030002|0x44640305|20 04 24 97 2C C6 2C 64",
                         "Connection3=Listen Only 100|0x01030002|0x44640305|20 04 24 97 2C C7 2C 64"] {
            #expect(read.text.contains(expected + "\n"), "\(expected) in \(read.text)")
        }

        // Each path, sizes as its connection says (the sequence count, and the header on outputs), opens on the gateway.
        let service = try await GatewayService.start(try Configuration(toml: toml, file: "io.toml"), group: MultiThreadedEventLoopGroup.singleton,
                                                     logger: Logger(label: "test.gateway"))
        defer { Task { await service.stop() } }
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: try #require(service.enipServer?.port), group: MultiThreadedEventLoopGroup.singleton)
        defer { Task { await client.close() } }
        for (serial, (path, sizeOut)) in [("20 04 24 97 2C 96 2C 64", 8), ("20 04 24 97 2C C6 2C 64", 2), ("20 04 24 97 2C C7 2C 64", 2)].enumerated() {
            let bytes = path.split(separator: " ").map { UInt8($0, radix: 16)! }
            var data: [UInt8] = [0x0A, 0x0E, 0, 0, 0, 0, UInt8(serial + 1), 0, 0, 0x50, UInt8(serial + 1), 0, 0x56, 0x01, 0x45, 0x23, 0x01, 0x00, 2, 0, 0, 0]
            data += [0x10, 0x27, 0, 0, UInt8(sizeOut), 0x48, 0x10, 0x27, 0, 0, 9, 0x48, 0x01, UInt8(bytes.count / 2)] + bytes
            let reply = try await client.send(CIPRequest(service: 0x54, path: CIPPath([.classID(6), .instance(1)]), data: data))
            #expect(reply.status == .success, "\(path): \(reply.status)")
        }
    }

    /// A pty bus with an RTU slave (unit 1: holding registers 40001-40008, the first 7) and the gateway polling it.
    private func rig(registry: PrometheusCollectorRegistry) async throws -> (VirtualBus, ModbusDevice, SlaveThread, GatewayService) {
        let settings = SerialSettings(baud: 38400, parity: .none)
        let line = try VirtualBus(ends: 2, settings: settings)
        let device = ModbusDevice()
        device.store.define(.holdingRegisters, at: 0, values: [7, 0, 0, 0, 0, 0, 0, 0])
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: device]))
        let service = try await GatewayService.start(try configuration(line: line.paths[0]), group: MultiThreadedEventLoopGroup.singleton,
                                                     logger: Logger(label: "test.gateway"), metrics: registry)
        return (line, device, slave, service)
    }

    @Test func aScannerReadsAndWritesASlavesRegistersThroughAssemblies() async throws {
        let udp = try await EIPScannerPort.acquire()
        defer { udp.release() }
        let registry = PrometheusCollectorRegistry()
        let (line, device, slave, service) = try await rig(registry: registry)
        defer { slave.stop() }
        defer { withExtendedLifetime(line) {} }
        func metric(_ name: String) -> Double? {
            let text = String(decoding: MetricsHelp.render(registry), as: UTF8.self)
            return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        defer { Task { await service.stop() } }
        let port = try #require(service.enipServer?.port)
        // Input 100: a status byte, Level (INT), Count (DINT); output 150: Setpoint (INT).
        let scanner = try PeerProcess(Peers.built("eip_originator"), ["127.0.0.1", "\(port)", "151", "150", "100", "2", "7", "10", "4"])
        defer { scanner.stop(signal: SIGKILL) }
        func expect(_ prefix: String) async throws { _ = try await offPool { try scanner.waitForLine(startingWith: prefix, timeout: 30) } }
        func register(_ number: Int) -> UInt16? { device.store.value(at: ModbusAddress(number)!) }

        try await expect("open ok")
        try await expect("in 00070000000000")
        // The slave's registers change: the inputs follow (Count high word first, as Modbus has it).
        try device.store.write(.holdingRegisters, address: 0, values: [42])
        try device.store.write(.holdingRegisters, address: 2, values: [1, 2])
        try await expect("in 002a0002000100")

        // Outputs reach the slave's register; when the scanner falls silent, the safe value does.
        scanner.send("out 6400")
        #expect(try await eventually { register(40005) == 100 })
        // The connection in the status and the metrics.
        let open = try #require(service.status.io?.connections.first)
        #expect(open.kind == "exclusive owner" && open.input == 100 && open.output == 150 && open.running == true && open.rpiInMilliseconds == 10)
        #expect(open.produced > 0 && open.consumed > 0 && open.dropped == 0, "\(open)")
        let server = "{server=\"127.0.0.1:0\""
        #expect(metric("fieldgw_enip_io_connections\(server)}") == 1)
        #expect((metric("fieldgw_enip_io_packets_total\(server),direction=\"produced\"}") ?? 0) > 0)
        #expect((metric("fieldgw_enip_io_packets_total\(server),direction=\"consumed\"}") ?? 0) > 0)
        scanner.send("stop")
        #expect(try await eventually { register(40005) == 3 })
        try await expect("closed")
        #expect(metric("fieldgw_enip_io_timeouts_total\(server)}") == 1 && metric("fieldgw_enip_io_connections\(server)}") == 0)
        #expect(service.status.io?.timeouts == 1 && service.status.io?.connections.isEmpty == true)

        // The slave goes away: its status bit is set and its members read 0, never a stale value.
        scanner.send("reopen")
        try await expect("open ok")
        slave.stop()
        try await expect("in 01000000000000")
    }

    /// A change-of-state input-only connection with a 10 s RPI: a change of
    /// the slave's register reaches the scanner at the next poll, long
    /// before the RPI's heartbeat would carry it.
    @Test func aChangeOfStateConnectionGetsAPolledChangeAtOnce() async throws {
        let udp = try await EIPScannerPort.acquire()
        defer { udp.release() }
        let (line, device, slave, service) = try await rig(registry: PrometheusCollectorRegistry())
        defer { slave.stop() }
        defer { withExtendedLifetime(line) {} }
        defer { Task { await service.stop() } }
        let port = try #require(service.enipServer?.port)
        let scanner = try PeerProcess(Peers.built("eip_originator"), ["127.0.0.1", "\(port)", "151", "198", "100", "0", "7", "10000", "4", "cos"])
        defer { scanner.stop(signal: SIGKILL) }
        func expect(_ prefix: String) async throws { _ = try await offPool { try scanner.waitForLine(startingWith: prefix, timeout: 30) } }
        try await expect("open ok")
        try await expect("in 00070000000000")
        let changed = ContinuousClock.now
        try device.store.write(.holdingRegisters, address: 0, values: [43])
        try await expect("in 002b0000000000")
        #expect(ContinuousClock.now - changed < .seconds(9), "sent on change, not at the 10 s RPI")
        #expect(service.status.io?.connections.first?.changeOfState == true)
    }
}
