import Foundation
@testable import Gateway
import Logging
import Modbus
import NIOPosix
import Serial
import TestSupport
import Testing

/// A line behind a serial device server: Debian's ser2net passes a TCP port
/// to a pty whose far end is our RTU slave. The gateway reads and writes
/// through it, refuses honestly while the server is gone, and comes back
/// by itself when it returns.
@Suite(.ownThreads) struct RemoteLineTests {
    private let settings = SerialSettings(baud: 19200)

    /// ser2net on 127.0.0.1:`port` for `device`, once it listens.
    private func ser2net(port: Int, device: String, directory: String, framing: String = "19200e81") throws -> PeerProcess {
        let config = "\(directory)/ser2net-\(port).yaml"
        try """
            %YAML 1.1
            ---
            connection: &line
              accepter: tcp,127.0.0.1,\(port)
              connector: serialdev,\(device),\(framing),local
              options:
                kickolduser: true
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let server = try PeerProcess(Peers.program("ser2net"), ["-n", "-d", "-c", config, "-P", "\(directory)/ser2net-\(port).pid"])
        let deadline = Date().addingTimeInterval(10)
        while (try? RawConnection(port: port)) == nil {
            guard Date() < deadline, server.isRunning else { throw Peers.Missing(description: "ser2net did not listen: \(server.standardError)") }
            usleep(20_000)
        }
        return server
    }

    @Test func anRTUOverTCPLineThroughSer2netComesBackByItself() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-ser2net-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(0..<10))]))
        defer { slave.stop() }
        let port = try Peers.freePort()
        var server = try ser2net(port: port, device: line.paths[0], directory: directory)
        let configuration = try Configuration(toml: """
            [web]
            enabled = false
            [[line]]
            name = "remote"
            kind = "rtu-over-tcp"
            address = "127.0.0.1:\(port)"
            connect_timeout_ms = 500
            timeout_max_ms = 300
            [[route]]
            units = "1"
            line = "remote"
            [[listener]]
            bind = "127.0.0.1:0"
            """, file: "remote.toml")
        let service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test.remote"))
        #expect(service.paths["remote"] == "127.0.0.1:\(port) (rtu-over-tcp)")
        let client = FaultSuiteTests.LoadClient(port: try #require(service.servers.first?.port), unit: 1, register: 3)
        // Until some answers came (a second when the machine is quiet; longer under the whole suite's load).
        let started = Date().addingTimeInterval(10)
        while client.snapshot.right <= 5 && Date() < started { try await Task.sleep(for: .milliseconds(100)) }
        let before = client.snapshot
        #expect(before.right > 5 && before.wrong.isEmpty, "through ser2net: \(before)")

        server.stop(signal: SIGKILL)
        try await Task.sleep(for: .seconds(1.5))
        let gone = client.snapshot
        #expect(gone.refused > before.refused && gone.wrong.isEmpty, "refused while the device server is gone: \(gone)")
        #expect(service.buses["remote"]?.isUp == false)

        server = try ser2net(port: port, device: line.paths[0], directory: directory)
        defer { server.stop(signal: SIGTERM) }
        let back = Date().addingTimeInterval(10)
        while client.snapshot.right <= gone.right + 5 && Date() < back { try await Task.sleep(for: .milliseconds(100)) }
        client.stop()
        #expect(client.join(within: 5))
        let after = client.snapshot
        #expect(after.right > gone.right + 5 && after.wrong.isEmpty && after.unanswered == 0, "back without a restart: \(after)")
        #expect(service.buses["remote"]?.isUp == true)
        await service.stop()
    }

    /// The same bridge to pymodbus's serial server: read and written by
    /// mbpoll through the gateway, and under load, with no wrong value.
    @Test func anRTUOverTCPLineThroughSer2netReachesPymodbus() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-ser2net-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // pyserial cannot set parity on a pty (see pymodbus_server.py): 8N1 all along.
        let line = try VirtualBus(ends: 2, settings: SerialSettings(baud: 19200, parity: .none))
        let script = Peers.packageRoot.appendingPathComponent("Tests/ModbusTests/Peers/pymodbus_server.py").path
        let slave = try PeerProcess(Peers.python(), [script, "rtu", line.paths[1], "19200"])
        defer { slave.stop() }
        _ = try slave.waitForLine(startingWith: "ready ")
        let port = try Peers.freePort()
        let server = try ser2net(port: port, device: line.paths[0], directory: directory, framing: "19200n81")
        defer { server.stop(signal: SIGTERM) }
        let configuration = try Configuration(toml: """
            [web]
            enabled = false
            [[line]]
            name = "bridged"
            kind = "rtu-over-tcp"
            address = "127.0.0.1:\(port)"
            parity = "none"
            timeout_min_ms = 1000
            timeout_max_ms = 2000
            [[route]]
            units = "1"
            line = "bridged"
            [[listener]]
            bind = "127.0.0.1:0"
            """, file: "bridged.toml")
        let service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test.bridged"))
        let listener = try #require(service.servers.first?.port)
        let read = try await offPool { try Peers.run(Peers.program("mbpoll"), ["-a", "1", "-r", "1", "-c", "5", "-1", "-p", "\(listener)", "127.0.0.1"]) }
        #expect((1...5).allSatisfy { read.text.contains("[\($0)]: \t\($0 - 1)") }, "\(read.text) \(read.stderr)")
        let client = FaultSuiteTests.LoadClient(port: listener, unit: 1, register: 40)
        try await Task.sleep(for: .seconds(1.5))
        client.stop()
        #expect(client.join(within: 5))
        let tally = client.snapshot
        #expect(tally.right > 5 && tally.wrong.isEmpty && tally.refused == 0 && tally.unanswered == 0, "\(tally)")
        await service.stop()
    }

    /// TCP splits and joins the line's bytes anywhere, and noise comes
    /// between them: every reply is right or an honest exception, never a
    /// wrong value.
    @Test(arguments: [false, true]) func anRTUOverTCPLineSurvivesSplitSegmentsAndNoise(noise: Bool) async throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(0..<10))]))
        defer { slave.stop() }
        let server = try SplittingServer(device: line.paths[0], settings: settings, noise: noise)
        defer { server.stop() }
        let configuration = try Configuration(toml: """
            [web]
            enabled = false
            [[line]]
            name = "split"
            kind = "rtu-over-tcp"
            address = "127.0.0.1:\(server.port)"
            timeout_min_ms = 1000
            timeout_max_ms = 2000
            retries = 1
            [[route]]
            units = "1"
            line = "split"
            [[listener]]
            bind = "127.0.0.1:0"
            """, file: "split.toml")
        let service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test.split"))
        // Any exception is an honest answer here: a slave that got a request damaged in a collision says so.
        let client = FaultSuiteTests.LoadClient(port: try #require(service.servers.first?.port), unit: 1, register: 3,
                                                honest: Set(1...0x0B))
        // Three seconds on a quiet machine; under the whole suite's load, until 20 answers came (at most 20 s).
        try await Task.sleep(for: .seconds(3))
        let enough = Date().addingTimeInterval(17)
        while client.snapshot.right <= 20 && Date() < enough { try await Task.sleep(for: .milliseconds(100)) }
        client.stop()
        #expect(client.join(within: 5))
        let tally = client.snapshot
        let framer = try #require(service.buses["split"]).framerCounters
        #expect(tally.right > 20 && tally.wrong.isEmpty && tally.unanswered == 0, "noise \(noise): \(tally)")
        if noise { #expect(framer.noiseBytes > 0, "the noise was seen and skipped: \(framer)") }
        await service.stop()
    }

    @Test func aRemoteLineIsConfiguredByAddressNotAdapter() throws {
        let remote = try Configuration(toml: """
            [[line]]
            name = "r"
            kind = "rtu-over-tcp"
            address = "10.0.0.7:4001"
            [[route]]
            units = "1"
            line = "r"
            [[listener]]
            bind = "127.0.0.1:0"
            """, file: "r.toml")
        #expect(remote.lines.first?.remote == Configuration.Remote(host: "10.0.0.7", port: 4001, connectTimeout: .seconds(3)))
        #expect(remote.lines.first?.options.reopenMaximum == .seconds(10), "the reconnect back-off doubles up to 10 s by default")
        let kinds = try Configuration(toml: """
            [[line]]
            name = "plc"
            kind = "tcp"
            address = "10.0.0.8:502"
            max_in_flight = 8
            reconnect_max_ms = 2000
            [[line]]
            name = "old"
            kind = "serial-ascii"
            adapter = "/dev/ttyS1"
            data_bits = 7
            char_timeout_ms = 1500
            [[route]]
            units = "1"
            line = "plc"
            [[listener]]
            bind = "127.0.0.1:0"
            """, file: "kinds.toml")
        #expect(kinds.lines.map(\.kind) == [.tcp, .serialASCII])
        #expect(kinds.lines[0].remote?.maxInFlight == 8 && kinds.lines[0].options.reopenMaximum == .seconds(2))
        #expect(kinds.lines[1].settings.dataBits == 7 && kinds.lines[1].characterTimeout == .milliseconds(1500))
        let cases = [
            ("kind = \"rtu-over-tcp\"\naddress = \"h:1\"\nadapter = \"/dev/ttyS0\"", "r.toml: line[0].adapter: a line of kind rtu-over-tcp has an address, not an adapter"),
            ("kind = \"rtu-over-tcp\"\naddress = \"nowhere\"", "r.toml: line[0].address: \"nowhere\" is not HOST:PORT"),
            ("kind = \"rtu-over-tcp\"", "r.toml: line[0].address: is required"),
            ("kind = \"carrier-pigeon\"\nadapter = \"/dev/ttyS0\"",
             "r.toml: line[0].kind: \"carrier-pigeon\" is not one of serial, serial-ascii, rtu-over-tcp, tcp"),
            ("kind = \"tcp\"\naddress = \"h:502\"\nbaud = 9600", "r.toml: line[0].baud: a tcp line carries Modbus/TCP, which has no baud"),
            ("kind = \"tcp\"\naddress = \"h:502\"\nmax_in_flight = 65", "r.toml: line[0].max_in_flight: 65 is outside 1–64"),
            ("kind = \"tcp\"\naddress = \"h:502\"\n[line.rs485]\nenabled = true", "r.toml: line[0].rs485: a line of kind tcp has no local port to set RS485 on"),
            ("adapter = \"/dev/ttyS0\"\nmax_in_flight = 2", "r.toml: line[0].max_in_flight: unknown key (see etc/fieldgw.toml for every key)"),
            ("kind = \"serial-ascii\"\nadapter = \"/dev/ttyS0\"\nunits = \"1\"",
             "r.toml: line[0].units: unknown key (see etc/fieldgw.toml for every key)"),
            ("adapter = \"/dev/ttyS0\"\nchar_timeout_ms = 2", "r.toml: line[0].char_timeout_ms: unknown key (see etc/fieldgw.toml for every key)"),
        ]
        for (keys, reason) in cases {
            let error = #expect(throws: ConfigurationError.self) {
                try Configuration(toml: "[[line]]\nname = \"r\"\n\(keys)\n[[route]]\nunits = \"1\"\nline = \"r\"\n[[listener]]\nbind = \"127.0.0.1:0\"\n", file: "r.toml")
            }
            #expect(error?.description == reason)
        }
    }
}
