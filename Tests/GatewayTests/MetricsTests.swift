import Foundation
@testable import Gateway
import Logging
import Modbus
import NIOPosix
import Prometheus
import Serial
import TestSupport
import Testing

/// The gateway's metrics in Prometheus: a real Prometheus server (Debian's)
/// scrapes a gateway process on a pty bus, and the line's counters are read
/// back through Prometheus's own query API.
@Suite(.ownThreads) struct MetricsTests {
    private let settings = SerialSettings(baud: 19200)

    private func peer(_ script: String) -> String {
        Peers.packageRoot.appendingPathComponent("Tests/GatewayTests/Peers/\(script)").path
    }

    @Test func aRealPrometheusScrapesTheLinesTransactions() throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([5, 6, 7])]))
        defer { slave.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-metrics-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
            [[line]]
            name = "metered"
            adapter = "\(line.paths[0])"
            [[route]]
            units = "1"
            line = "metered"
            [[listener]]
            bind = "127.0.0.1:0"
            [status]
            bind = "127.0.0.1:0"
            """.write(toFile: "\(directory)/gateway.toml", atomically: true, encoding: .utf8)
        let gateway = try PeerProcess(Peers.fieldgw(), ["gateway", "--config", "\(directory)/gateway.toml"])
        let port = try gateway.waitForLine(startingWith: "gateway: Modbus/TCP on 127.0.0.1:")
        let metrics = try #require(URL(string: try gateway.waitForLine(startingWith: "gateway: metrics on ")))
        for _ in 0..<5 {
            let read = try Peers.run(Peers.program("mbpoll"), ["-a", "1", "-r", "1", "-c", "3", "-1", "-p", port, "127.0.0.1"])
            #expect(read.text.contains("[3]: \t7"), "\(read.text) \(read.stderr)")
        }

        // The text is what Prometheus's own checker accepts.
        let text = try Peers.run(Peers.python(), [peer("prometheus_query.py"), "metrics", metrics.absoluteString])
        #expect(text.text.contains("fieldgw_line_transactions_total{line=\"metered\"} 5"), "\(text.text)")
        let checked = try Peers.run(Peers.program("promtool"), ["check", "metrics"], input: text.stdout)
        #expect(checked.status == 0, "promtool: \(checked.text) \(checked.stderr)")

        let prometheusPort = try Peers.freePort()
        try """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: fieldgw
                static_configs:
                  - targets: ["127.0.0.1:\(metrics.port ?? 0)"]
            """.write(toFile: "\(directory)/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try PeerProcess(Peers.program("prometheus"), [
            "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
            "--web.listen-address=127.0.0.1:\(prometheusPort)",
        ])
        let query = "fieldgw_line_transactions_total{line=\"metered\",job=\"fieldgw\"}"
        let answer = try Peers.run(Peers.python(), [peer("prometheus_query.py"), "\(prometheusPort)", query, "5"])
        prometheus.stop(signal: SIGTERM)
        gateway.stop(signal: SIGTERM)
        let result = try JSONSerialization.jsonObject(with: answer.stdout) as? [[String: Any]]
        let value = (result?.first?["value"] as? [Any])?.last as? String
        #expect(value == "5", "Prometheus answered \(answer.text) \(answer.stderr) \(prometheus.standardError.suffix(400))")
        #expect(gateway.exitStatus == 0)
    }

    /// The Modbus/TCP listener's and the EtherNet/IP server's own figures:
    /// connections, requests, exceptions by code, sessions, requests by CIP
    /// service and errors by CIP status, as real clients (mbpoll, fieldgw
    /// enip-client) make them.
    @Test func theListenersAndTheEtherNetIPServerCountWhatTheyServe() async throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([5, 6, 7])]))
        defer { slave.stop() }
        let configuration = try Configuration(toml: """
            [web]
            enabled = false
            [[line]]
            name = "counted"
            adapter = "\(line.paths[0])"
            [[route]]
            units = "1"
            line = "counted"
            [[listener]]
            bind = "127.0.0.1:0"
            [enip]
            bind = "127.0.0.1:0"
            [[device]]
            tag = "Meter"
            line = "counted"
            slave = 1
            [[device.member]]
            name = "A"
            register = "40001"
            """, file: "counted.toml")
        let registry = PrometheusCollectorRegistry()
        let service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"),
                                                     metrics: registry)
        let port = try #require(service.servers.first?.port)
        let enipPort = try #require(service.enipServer?.port)
        let outputs = try await Task.detached {
            [try Peers.run(Peers.program("mbpoll"), ["-a", "1", "-r", "1", "-c", "3", "-1", "-p", "\(port)", "127.0.0.1"]),
             try Peers.run(Peers.program("mbpoll"), ["-a", "9", "-r", "1", "-1", "-p", "\(port)", "127.0.0.1"]),
             try Peers.run(Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(enipPort)", "Meter.A", "Nobody"])]
        }.value
        try await Task.sleep(for: .milliseconds(200))
        let text = String(decoding: MetricsHelp.render(registry), as: UTF8.self)
        await service.stop()
        #expect(outputs[1].stderr.contains("Gateway path unavailable"), "\(outputs[1].stderr)")
        #expect(!text.contains("service=\"0x52\""), "Unconnected Send carries the reads: they are counted, not it")
        for wanted in ["fieldgw_modbus_tcp_requests_total{listener=\"127.0.0.1:0\"} 2",
                       "fieldgw_modbus_tcp_connections_total{listener=\"127.0.0.1:0\"} 2",
                       "fieldgw_modbus_tcp_exceptions_total{listener=\"127.0.0.1:0\",code=\"0x0A\"} 1",
                       "fieldgw_enip_requests_total{server=\"127.0.0.1:0\",service=\"0x4C\"} 2",
                       "fieldgw_enip_errors_total{server=\"127.0.0.1:0\",status=\"0x05\"} 1",
                       "fieldgw_enip_sessions{server=\"127.0.0.1:0\"} 0",
                       "# HELP fieldgw_modbus_tcp_exceptions_total ", "# HELP fieldgw_enip_requests_total "] {
            #expect(text.contains(wanted), "\(wanted) in:\n\(text.split(separator: "\n").filter { $0.contains("tcp_") || $0.contains("enip") }.joined(separator: "\n"))")
        }
    }
}
