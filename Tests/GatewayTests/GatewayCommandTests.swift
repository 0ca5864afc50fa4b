import Foundation
@testable import Gateway
import Logging
import NIOPosix
import Modbus
import Serial
import TestSupport
import Testing

/// `fieldgw gateway --config FILE` as a service runs it: a line on a pty bus
/// with an RTU slave, read by mbpoll through two listeners (one read-only),
/// stopped by SIGTERM.
@Suite(.ownThreads) struct GatewayCommandTests {
    private let settings = SerialSettings(baud: 19200)

    private func configFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// One line `name` on `adapter` as unit 1, one listener on a free port, no status endpoint.
    private func oneLineConfig(name: String, adapter: String) throws -> String {
        try configFile("""
            [[line]]
            name = "\(name)"
            adapter = "\(adapter)"
            [[route]]
            units = "1"
            line = "\(name)"
            [[listener]]
            bind = "127.0.0.1:0"
            [status]
            enabled = false
            """)
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
        #expect(output.status == 78, "EX_CONFIG")
        #expect(output.stderr == "fieldgw gateway: \(config): line[0].stop_bits: 3 is outside 1–2\n", "one line, no usage screen: \(output.stderr)")
    }

    /// `--version`: the version, the commit and the compiler, written into
    /// the binary by the BuildInfo plugin from this checkout.
    @Test func versionNamesTheBuildsCommitAndCompiler() throws {
        let output = try Peers.run(Peers.fieldgw(), ["--version"])
        let lines = output.text.split(separator: "\n").map(String.init)
        try #require(output.status == 0 && lines.count == 3, "\(output.text)")
        #expect(lines[2].hasPrefix("built with Swift version 6."), "\(lines[2])")
        // Built from a tarball (no .git), the version and commit say so.
        guard FileManager.default.fileExists(atPath: Peers.packageRoot.appendingPathComponent(".git").path) else {
            return #expect(lines[0] == "fieldgw unknown" && lines[1] == "commit unknown", "\(output.text)")
        }
        #expect(lines[0].hasPrefix("fieldgw ") && lines[0].count > 8 && !lines[0].hasSuffix("unknown"), "\(lines[0])")
        let commit = String(lines[1].dropFirst("commit ".count))
        #expect(lines[1].hasPrefix("commit ") && commit.count == 40 && commit.allSatisfy(\.isHexDigit), "\(lines[1])")
        let known = try Peers.run("/usr/bin/git", ["-C", Peers.packageRoot.path, "cat-file", "-e", commit + "^{commit}"])
        #expect(known.status == 0, "the commit is one of this checkout's: \(known.stderr)")
    }

    /// A bad address names the option it came in, whichever it was.
    @Test func aBadAddressNamesItsOption() throws {
        let web = try Peers.run(Peers.fieldgw(), ["modbus-sim", "-a", "127.0.0.1:0", "--web", "127.0.0.1:http", "40001=1"])
        #expect(web.status == 2 && web.stderr.contains("--web: \"127.0.0.1:http\" has no port number from 0 to 65535"), "\(web.stderr)")
        let address = try Peers.run(Peers.fieldgw(), ["enip-server", "-a", "127.0.0.1:99999", "X=INT"])
        #expect(address.status == 2 && address.stderr.contains("--address: \"127.0.0.1:99999\""), "\(address.stderr)")
    }

    /// `--check` reads the file as start-up does and says what it would
    /// start, opening nothing (the shipped example names adapters and ports
    /// this machine lacks or a test may not take); a bad file fails as start-up does.
    @Test func checkReadsTheConfigurationAndStartsNothing() throws {
        let example = Peers.packageRoot.appendingPathComponent("etc/fieldgw.toml").path
        let good = try Peers.run(Peers.fieldgw(), ["gateway", "--check", "--config", example])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.text.contains("gateway: line boiler-house on serial:A10KZ3L7"), "\(good.text)")
        #expect(good.text.contains("gateway: Modbus/TCP on 127.0.0.1:1502 (read-only)"), "\(good.text)")
        #expect(good.text.hasSuffix("gateway: \(example) is good: lines 2, polls 1, serial slaves 0\n"), "\(good.text)")
        let config = try configFile("[[line]]\nname = \"x\"\nadapter = \"/dev/null\"\nstop_bits = 3\n[[listener]]\n")
        defer { try? FileManager.default.removeItem(atPath: config) }
        let bad = try Peers.run(Peers.fieldgw(), ["gateway", "--check", "--config", config])
        #expect(bad.status == 78 && bad.stdout.isEmpty, "EX_CONFIG, nothing said good")
        #expect(bad.stderr == "fieldgw gateway: \(config): line[0].stop_bits: 3 is outside 1–2\n", "\(bad.stderr)")
    }

    /// A taken port used to end the gateway with SIGILL and a backtrace.
    /// Now: one line naming the address and the reason, exit 69, whichever
    /// server it was, and nothing left running.
    @Test func aPortInUseStopsStartUpWithOneLineNamingIt() async throws {
        let taken = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice([1]))),
                                                    group: MultiThreadedEventLoopGroup.singleton)
        let line = try VirtualBus(ends: 2, settings: settings)
        let base = "[[line]]\nname = \"l\"\nadapter = \"\(line.paths[0])\"\n[[route]]\nunits = \"1\"\nline = \"l\"\n[status]\nenabled = false\n"
        let cases = [
            ("[[listener]]\nbind = \"127.0.0.1:0\"\n[[listener]]\nbind = \"127.0.0.1:\(taken.port)\"\n", "Modbus/TCP"),
            ("[[listener]]\nbind = \"127.0.0.1:0\"\n[enip]\nbind = \"127.0.0.1:\(taken.port)\"\n", "EtherNet/IP"),
        ]
        for (listeners, what) in cases {
            let config = try configFile(base + listeners)
            defer { try? FileManager.default.removeItem(atPath: config) }
            let output = try Peers.run(Peers.fieldgw(), ["gateway", "--config", config])
            #expect(output.status == 69, "\(output.status) \(output.stderr)")
            #expect(output.stderr == "fieldgw gateway: \(what) cannot listen on 127.0.0.1:\(taken.port): Address already in use\n", "\(output.stderr)")
        }
        for command in [["modbus-sim", "-a"], ["enip-server", "-a"]] {
            let output = try Peers.run(Peers.fieldgw(), command + ["127.0.0.1:\(taken.port)"])
            let what = command[0] == "modbus-sim" ? "Modbus/TCP" : "EtherNet/IP"
            #expect(output.status == 69 && output.stderr == "fieldgw \(command[0]): \(what) cannot listen on 127.0.0.1:\(taken.port): Address already in use\n",
                    "\(output.stderr)")
        }
        try await taken.close()
    }

    /// SIGHUP and `fieldgw reload` read the file again and apply it; a bad
    /// file changes nothing, and `fieldgw reload` says which key and why.
    @Test func sighupAndFieldgwReloadApplyTheFileAgain() throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let text = "[[line]]\nname = \"l\"\nadapter = \"\(line.paths[0])\"\n[[route]]\nunits = \"1\"\nline = \"l\"\n[web]\nbind = \"127.0.0.1:0\"\n"
            + "[[listener]]\nbind = \"127.0.0.1:0\"\n"
        let config = try configFile(text)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let gateway = try PeerProcess(Peers.fieldgw(), ["gateway", "--config", config])
        let web = try gateway.waitForLine(startingWith: "gateway: status on ").replacingOccurrences(of: "/status", with: "")
        _ = try gateway.waitForLine(startingWith: "gateway: running as pid ")
        try (text + "[[listener]]\nbind = \"127.0.0.1:0\"\nread_only = true\n").write(toFile: config, atomically: true, encoding: .utf8)
        kill(gateway.processIdentifier, SIGHUP)
        try gateway.waitForError(containing: "reload: kept: line l, Modbus/TCP 127.0.0.1:0; started: Modbus/TCP 127.0.0.1:0")
        let again = try Peers.run(Peers.fieldgw(), ["reload", "--url", web + "/api/reload"])
        #expect(again.status == 0 && again.text.hasPrefix("kept: line l, Modbus/TCP 127.0.0.1:0, Modbus/TCP 127.0.0.1:0"), "\(again.text) \(again.stderr)")
        try (text + "[[listener]]\nbind = \"nowhere\"\n").write(toFile: config, atomically: true, encoding: .utf8)
        let refused = try Peers.run(Peers.fieldgw(), ["reload", "--url", web + "/api/reload"])
        #expect(refused.status == 69 && refused.stderr.contains("nothing changed: \(config): listener[1].bind"), "\(refused.stderr)")
        gateway.stop(signal: SIGINT)
        #expect(gateway.exitStatus == 0, "\(gateway.standardError)")
    }

    /// A SIGTERM that comes while the gateway starts is kept, and it stops
    /// cleanly once started, instead of being killed half-way.
    @Test func aSignalDuringStartUpIsNotLost() throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let config = try oneLineConfig(name: "early", adapter: line.paths[0])
        defer { try? FileManager.default.removeItem(atPath: config) }
        let gateway = try PeerProcess(Peers.fieldgw(), ["gateway", "--config", config])
        // As soon as SIGTERM is caught (the kernel says so in /proc), before it has said it listens.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !Self.catches(SIGTERM, gateway.processIdentifier) { usleep(200) }
        kill(gateway.processIdentifier, SIGTERM)
        gateway.stop()
        #expect(gateway.exitStatus == 0, "exit 0, not killed by the signal: \(gateway.standardError)")
        #expect(try gateway.waitForLine(startingWith: "gateway: stopped", timeout: 1) == "")
    }

    /// Whether process `pid` ignores or handles `signal` now (SigIgn/SigCgt in /proc).
    static func catches(_ signal: Int32, _ pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        let bit = UInt64(1) << UInt64(signal - 1)
        return status.split(separator: "\n").contains { line in
            (line.hasPrefix("SigIgn:") || line.hasPrefix("SigCgt:"))
                && (UInt64(line.split(separator: "\t").last ?? "", radix: 16).map { $0 & bit != 0 } ?? false)
        }
    }

    /// modbus-sim and enip-server serve /metrics with --web, and stop on
    /// SIGTERM or SIGINT with exit 0, their ports free again.
    @Test func theSimulatorsServeMetricsAndStopCleanly() async throws {
        let cases: [([String], String, String)] = [
            (["modbus-sim", "-a", "127.0.0.1:0", "--web", ":0", "40001-40010=5"], "modbus-sim: Modbus/TCP on 127.0.0.1:", "fieldgw_modbus_tcp_requests_total"),
            (["enip-server", "-a", "127.0.0.1:0", "--web", ":0", "Scada=INT[10]"], "enip-server: EtherNet/IP on 127.0.0.1:", "fieldgw_enip_requests_total"),
        ]
        for (signal, (arguments, listening, metric)) in zip([SIGTERM, SIGINT], cases) {
            let simulator = try PeerProcess(Peers.fieldgw(), arguments)
            let port = try simulator.waitForLine(startingWith: listening)
            let metrics = try simulator.waitForLine(startingWith: "\(arguments[0]): metrics on ")
            #expect(metrics.hasPrefix("http://127.0.0.1:"), "loopback unless a host is given: \(metrics)")
            let client = arguments[0] == "modbus-sim"
                ? try Peers.run(Peers.program("mbpoll"), ["-a", "1", "-r", "1", "-c", "2", "-1", "-p", port, "127.0.0.1"])
                : try Peers.run(Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "Scada[1]"])
            #expect(client.status == 0, "\(client.text) \(client.stderr)")
            let text = try Peers.run(Peers.program("curl"), ["-s", metrics]).text
            #expect(text.contains("\(metric){") && text.contains("# HELP \(metric) "), "\(text)")
            simulator.stop(signal: signal)
            #expect(simulator.exitStatus == 0, "\(arguments[0]) after signal \(signal): \(simulator.standardError)")
            let again = try await ModbusTCPServer.start(host: "127.0.0.1", port: Int(port)!, serving: DeviceServing(units: UnitMap(fallback: holdingDevice([1]))),
                                                        group: MultiThreadedEventLoopGroup.singleton)
            #expect(again.port == Int(port)!, "its port is free again")
            try await again.close()
        }
    }

    /// modbus-sim serving RTU on a serial line stops on SIGTERM too (its
    /// reads block on a thread of their own), exit 0, its port let go.
    @Test func theRTUSimulatorStopsCleanly() throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let simulator = try PeerProcess(Peers.fieldgw(), ["modbus-sim", "-a", line.paths[1], "--unit", "1", "40001=42"])
        _ = try simulator.waitForLine(startingWith: "modbus-sim: Modbus/RTU on ")
        let master = RTUMaster(port: try SerialPort(path: line.paths[0], settings: settings), slaveTimeout: .seconds(1))
        #expect(try master.send(.readHoldingRegisters(address: 0, count: 1), unit: 1) == .registers([42]))
        simulator.stop(signal: SIGTERM)
        #expect(simulator.exitStatus == 0, "\(simulator.standardError)")
        #expect(throws: Never.self) { _ = try SerialPort(path: line.paths[1], settings: settings) }
    }

    /// What started before the part that failed is stopped: its port is free
    /// again and the line's adapter is let go.
    @Test func aPartThatFailsToStartStopsThoseStartedBefore() async throws {
        let taken = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice([1]))),
                                                    group: MultiThreadedEventLoopGroup.singleton)
        let line = try VirtualBus(ends: 2, settings: settings)
        let first = try Peers.freePort()
        let configuration = try Configuration(toml: """
            [[line]]
            name = "l"
            adapter = "\(line.paths[0])"
            [[route]]
            units = "1"
            line = "l"
            [[listener]]
            bind = "127.0.0.1:\(first)"
            [[listener]]
            bind = "127.0.0.1:\(taken.port)"
            [status]
            enabled = false
            """, file: "t")
        await #expect(throws: GatewayError.self) {
            _ = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        }
        let again = try await ModbusTCPServer.start(host: "127.0.0.1", port: first, serving: DeviceServing(units: UnitMap(fallback: holdingDevice([1]))),
                                                    group: MultiThreadedEventLoopGroup.singleton)
        #expect(again.port == first, "the first listener was closed")
        _ = try SerialPort(path: line.paths[0], settings: settings)
        try await again.close()
        try await taken.close()
    }

    /// SIGTERM while a write is on the line: the write finishes and its
    /// reply is sent (the client knows the outcome); the read queued behind
    /// it is answered 0x0A; then the connection closes and the gateway exits 0.
    @Test func sigtermSendsTheReplyOfTheTransactionInFlight() throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([5, 6])]),
                                faults: [.delay(0.5...0.5)])
        defer { slave.stop() }
        let config = try oneLineConfig(name: "slow", adapter: line.paths[0])
        defer { try? FileManager.default.removeItem(atPath: config) }
        let gateway = try PeerProcess(Peers.fieldgw(), ["gateway", "--config", config])
        let port = try #require(Int(try gateway.waitForLine(startingWith: "gateway: Modbus/TCP on 127.0.0.1:")))
        let client = try RawConnection(port: port)
        let write: [UInt8] = [0, 1, 0, 0, 0, 6, 1, 6, 0, 1, 0, 77]
        let read: [UInt8] = [0, 2, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2]
        client.send(write + read)
        usleep(150_000)
        kill(gateway.processIdentifier, SIGTERM)
        #expect(client.receive(count: 12, within: 3000) == write, "the write's reply, after SIGTERM")
        #expect(client.receive(count: 9, within: 3000) == [0, 2, 0, 0, 0, 3, 1, 0x83, 0x0A], "the read behind it: line closing")
        #expect(client.readsEndOfFile(within: 3))
        gateway.stop(signal: SIGTERM)
        #expect(gateway.exitStatus == 0, "\(gateway.standardError)")
    }

    /// An adapter another process holds is reported as busy, with the holder,
    /// not as missing; the gateway waits for it.
    @Test func aBusyAdapterIsReportedWithItsHolder() throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let held = try SerialPort(path: line.paths[0], settings: settings)
        let config = try oneLineConfig(name: "held", adapter: held.path)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let gateway = try PeerProcess(Peers.fieldgw(), ["gateway", "--config", config])
        let reason = try gateway.waitForLine(startingWith: "gateway: line held is down: ")
        #expect(reason.hasPrefix("its adapter \(held.path) is busy, in use by pid \(getpid())"), "\(reason)")
        gateway.stop(signal: SIGTERM)
        #expect(gateway.exitStatus == 0)
    }
}
