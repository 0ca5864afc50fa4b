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
@Suite struct RemoteLineTests {
    private let settings = SerialSettings(baud: 19200)

    /// ser2net on 127.0.0.1:`port` for `device`, once it listens.
    private func ser2net(port: Int, device: String, directory: String) throws -> PeerProcess {
        let config = "\(directory)/ser2net-\(port).yaml"
        try """
            %YAML 1.1
            ---
            connection: &line
              accepter: tcp,127.0.0.1,\(port)
              connector: serialdev,\(device),19200e81,local
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
        try await Task.sleep(for: .seconds(1))
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
        try await Task.sleep(for: .seconds(3))
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
        let cases = [
            ("kind = \"rtu-over-tcp\"\naddress = \"h:1\"\nadapter = \"/dev/ttyS0\"", "r.toml: line[0].adapter: an rtu-over-tcp line has an address, not an adapter"),
            ("kind = \"rtu-over-tcp\"\naddress = \"nowhere\"", "r.toml: line[0].address: \"nowhere\" is not HOST:PORT"),
            ("kind = \"rtu-over-tcp\"", "r.toml: line[0].address: is required"),
            ("kind = \"carrier-pigeon\"\nadapter = \"/dev/ttyS0\"", "r.toml: line[0].kind: \"carrier-pigeon\" is not one of serial, rtu-over-tcp"),
        ]
        for (keys, reason) in cases {
            let error = #expect(throws: ConfigurationError.self) {
                try Configuration(toml: "[[line]]\nname = \"r\"\n\(keys)\n[[route]]\nunits = \"1\"\nline = \"r\"\n[[listener]]\nbind = \"127.0.0.1:0\"\n", file: "r.toml")
            }
            #expect(error?.description == reason)
        }
    }
}
