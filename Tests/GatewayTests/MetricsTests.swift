import Foundation
@testable import Gateway
import Modbus
import Serial
import TestSupport
import Testing

/// The gateway's metrics in Prometheus: a real Prometheus server (Debian's)
/// scrapes a gateway process on a pty bus, and the line's counters are read
/// back through Prometheus's own query API.
@Suite struct MetricsTests {
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
}
