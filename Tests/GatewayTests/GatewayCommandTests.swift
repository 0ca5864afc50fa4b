import Foundation
import Gateway
import Modbus
import Serial
import TestSupport
import Testing

/// `fieldgw gateway --config FILE` as a service runs it: a line on a pty bus
/// with an RTU slave, read by mbpoll through two listeners (one read-only),
/// stopped by SIGTERM.
@Suite struct GatewayCommandTests {
    private let settings = SerialSettings(baud: 19200)

    private func configFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// mbpoll once against 127.0.0.1:`port`; `values` are written (they follow the host).
    private func mbpoll(_ arguments: [String], port: String, values: [String] = []) throws -> Peers.Output {
        try Peers.run(Peers.program("mbpoll"), arguments + ["-1", "-p", port, "127.0.0.1"] + values)
    }

    @Test func theGatewayServesALineAndStopsOnSIGTERM() throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [4: holdingDevice([40, 41, 42])]))
        defer { slave.stop() }
        let config = try configFile("""
            [[line]]
            name = "bench"
            adapter = "\(line.paths[0])"
            parity = "even"
            timeout_max_ms = 300
            [[route]]
            units = "104"
            line = "bench"
            offset = 100
            [[listener]]
            bind = "127.0.0.1:0"
            [[listener]]
            bind = "127.0.0.1:0"
            read_only = true
            [status]
            bind = "127.0.0.1:0"
            """)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let gateway = try PeerProcess(Peers.fieldgw(), ["gateway", "--config", config])
        #expect(try gateway.waitForLine(startingWith: "gateway: line bench on ") == line.paths[0])
        let port = try gateway.waitForLine(startingWith: "gateway: Modbus/TCP on 127.0.0.1:")
        let readOnlyPort = try gateway.waitForLine(startingWith: "gateway: Modbus/TCP on 127.0.0.1:")

        let read = try mbpoll(["-a", "104", "-r", "1", "-c", "3"], port: port)
        #expect(read.text.contains("[1]: \t40") && read.text.contains("[3]: \t42"), "\(read.text) \(read.stderr)")
        let write = try mbpoll(["-a", "104", "-r", "2"], port: port, values: ["77"])
        #expect(write.status == 0, "\(write.stderr)")
        let again = try mbpoll(["-a", "104", "-r", "2"], port: readOnlyPort)
        #expect(again.text.contains("[2]: \t77"), "the read-only listener reads: \(again.text) \(again.stderr)")
        let refused = try mbpoll(["-a", "104", "-r", "2"], port: readOnlyPort, values: ["78"])
        #expect(refused.status != 0 && refused.stderr.contains("Illegal function"), "\(refused.text) \(refused.stderr)")
        let unrouted = try mbpoll(["-a", "5", "-r", "1"], port: port)
        #expect(unrouted.stderr.contains("Gateway path unavailable"), "\(unrouted.stderr)")

        // Three reads and writes reached the line: the refused write and the unrouted read did not.
        let statusURL = try gateway.waitForLine(startingWith: "gateway: status on ")
        let status = try Peers.run(Peers.fieldgw(), ["status", "--url", statusURL])
        #expect(status.status == 0 && status.text.hasPrefix("line bench  up  \(line.paths[0])  queue 0  busy "), "\(status.text) \(status.stderr)")
        #expect(status.text.contains("3 transactions, 0 timeouts") && status.text.contains("slave 4: breaker closed"), "\(status.text)")
        let json = try Peers.run(Peers.fieldgw(), ["status", "--url", statusURL, "--json"])
        let decoded = try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any]
        let lines = try #require(decoded?["lines"] as? [[String: Any]])
        #expect(lines.first?["name"] as? String == "bench" && lines.first?["transactions"] as? Int == 3, "\(json.text)")
        let nowhere = try Peers.run(Peers.fieldgw(), ["status", "--url", "http://127.0.0.1:1/status"])
        #expect(nowhere.status != 0 && nowhere.stderr.contains("is the gateway running"), "\(nowhere.stderr)")

        gateway.stop(signal: SIGTERM)
        #expect(gateway.exitStatus == 0, "stopped by SIGTERM, cleanly: \(gateway.standardError)")
    }

    @Test func aBadConfigurationStopsStartUpNamingFileKeyAndReason() throws {
        let config = try configFile("""
            [[line]]
            name = "x"
            adapter = "/dev/null"
            stop_bits = 3
            [[listener]]
            """)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let output = try Peers.run(Peers.fieldgw(), ["gateway", "--config", config])
        #expect(output.status != 0)
        #expect(output.stderr.contains("\(config): line[0].stop_bits: 3 is outside 1–2"), "\(output.stderr)")
    }
}
