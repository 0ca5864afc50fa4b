import Foundation
import TestSupport
import Testing

/// `fieldgw demo` as `make demo` runs it: three simulated slaves behind the
/// gateway, read with mbpoll, with the load line, stopped by SIGTERM.
@Suite(.ownThreads) struct DemoCommandTests {
    @Test func theDemoServesItsSlavesAndReportsLoad() throws {
        let demo = try PeerProcess(Peers.fieldgw(), ["demo", "--port", "0", "--enip-port", "0", "--status-port", "0"])
        let port = try demo.waitForLine(startingWith: "demo: Modbus/TCP on 127.0.0.1:")
        #expect(try demo.waitForLine(startingWith: "demo: try  mbpoll -a 1 -r 1 -c 10 -p ") == "\(port) 127.0.0.1")
        let fast = try Peers.run(Peers.program("mbpoll"), ["-a", "1", "-r", "1", "-c", "10", "-1", "-p", port, "127.0.0.1"])
        #expect((2...10).allSatisfy { fast.text.contains("[\($0)]: \t\($0)") }, "\(fast.text) \(fast.stderr)")
        let slow = try Peers.run(Peers.program("mbpoll"), ["-a", "2", "-r", "2", "-c", "2", "-1", "-p", port, "127.0.0.1"])
        #expect(slow.text.contains("[2]: \t2") && slow.text.contains("[3]: \t3"), "\(slow.text) \(slow.stderr)")
        // The slaves as tags too: Unit1.R5 holds 5 once the first poll is in.
        let enipPort = String(try demo.waitForLine(startingWith: "demo: EtherNet/IP on 127.0.0.1:").prefix { $0.isNumber })
        var tags = try Peers.run(Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(enipPort)", "Unit1.R5", "Unit2.R10"])
        for _ in 0..<20 where tags.status != 0 {
            usleep(250_000)
            tags = try Peers.run(Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(enipPort)", "Unit1.R5", "Unit2.R10"])
        }
        #expect(tags.text.hasPrefix("Unit1.R5 == [5]\nUnit2.R10 == [10]\n"), "\(tags.text) \(tags.stderr)")
        // Its status, as `fieldgw status` prints it, and its metrics, as Prometheus reads them.
        let statusURL = try demo.waitForLine(startingWith: "demo: status on ").components(separatedBy: ",").first ?? ""
        let status = try Peers.run(Peers.fieldgw(), ["status", "--url", statusURL])
        #expect(status.status == 0 && status.text.hasPrefix("line demo  up  ") && status.text.contains("slave 1: breaker closed"),
                "\(status.text) \(status.stderr)")
        let metrics = try Peers.run(Peers.python(), ["-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                                      statusURL.replacingOccurrences(of: "/status", with: "/metrics")])
        #expect(metrics.text.contains("fieldgw_line_transactions_total{line=\"demo\"}"), "\(metrics.text) \(metrics.stderr)")
        let load = try demo.waitForLine(startingWith: "load 1/5/15 min: line ", timeout: 15)
        #expect(load.contains("unit 1 online") && load.contains("transactions"), "\(load)")
        demo.stop(signal: SIGTERM)
        #expect(demo.exitStatus == 0, "\(demo.standardError)")
    }
}
