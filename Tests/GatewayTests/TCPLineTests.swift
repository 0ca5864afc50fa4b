import Foundation
@testable import Gateway
import Logging
import Modbus
import NIOPosix
import Serial
import Synchronization
import TestSupport
import Testing

/// Lines of the other kinds: a remote Modbus/TCP device (`tcp`) and Modbus
/// ASCII on a local port (`serial-ascii`), each against real peers, with the
/// same queue, health and answers as an RTU line. One test at a time: each
/// starts Python peers, and the whole suite at once starves the machine's
/// two cores (older timing-bound tests then fail).
@Suite(.serialized, .ownThreads) struct TCPLineTests {
    private static let pymodbusServer = Peers.packageRoot.appendingPathComponent("Tests/ModbusTests/Peers/pymodbus_server.py").path

    private func gateway(_ toml: String, file: String) async throws -> GatewayService {
        let configuration = try Configuration(toml: "[web]\nenabled = false\n[[listener]]\nbind = \"127.0.0.1:0\"\n" + toml, file: file)
        return try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test.\(file)"))
    }

    private func tcpLine(_ name: String, port: Int, extra: String = "", timeouts: (min: Int, max: Int) = (1000, 2000)) -> String {
        """
        [[line]]
        name = "\(name)"
        kind = "tcp"
        address = "127.0.0.1:\(port)"
        connect_timeout_ms = 500
        # Generous: a Python server on a loaded machine is not what this tests.
        timeout_min_ms = \(timeouts.min)
        timeout_max_ms = \(timeouts.max)
        reconnect_max_ms = 1000
        \(extra)
        [[route]]
        units = "1"
        line = "\(name)"

        """
    }

    private func pymodbus(port: Int) throws -> PeerProcess {
        let server = try PeerProcess(Peers.python(), [Self.pymodbusServer, "tcp", "\(port)"])
        _ = try server.waitForLine(startingWith: "ready ")
        return server
    }

    /// mbpoll through the gateway's listener: `arguments` and the text it printed.
    private func mbpoll(_ port: Int, _ arguments: [String], writing values: [String] = []) async throws -> String {
        let output = try await offPool {
            try Peers.run(Peers.program("mbpoll"), ["-a", "1", "-1", "-p", "\(port)"] + arguments + ["127.0.0.1"] + values)
        }
        return output.text + output.stderr
    }

    /// The gateway starts before its remote device: the line is down (0x0A)
    /// and comes up by itself. mbpoll, pymodbus and pycomm3 then read and write the
    /// pymodbus server through it; killed mid-load, the server costs honest
    /// exceptions only, and the line recovers when it is back.
    @Test func aTCPLineReachesAPymodbusServerThroughDeathAndReturn() async throws {
        // Held until pymodbus takes it: a free port another test's server was given made the line come up at once.
        let reserved = try Peers.ReservedPort()
        let port = reserved.port
        let service = try await gateway(tcpLine("plc", port: port) + """
            [enip]
            bind = "127.0.0.1:0"
            [[device]]
            tag = "PLC"
            line = "plc"
            slave = 1
            period_s = 0.2
              [[device.member]]
              name = "R7"
              register = "40008"
            """, file: "tcp-line.toml")
        let bus = try #require(service.buses["plc"])
        #expect(!bus.isUp && (bus.downReason ?? "").contains("cannot connect to 127.0.0.1:\(port)"), "\(bus.downReason ?? "up")")
        #expect(await bus.request(Request.readHoldingRegisters(address: 0, count: 1).pdu, to: 1, priority: .forwarded) == [0x83, 0x0A])

        reserved.release()
        var server = try pymodbus(port: port)
        let up = Date().addingTimeInterval(10)
        while !bus.isUp && Date() < up { try await Task.sleep(for: .milliseconds(50)) }
        #expect(bus.isUp, "the line came up by itself")
        let listener = try #require(service.servers.first?.port)
        let read = try await mbpoll(listener, ["-r", "1", "-c", "5"])
        #expect((1...5).allSatisfy { read.contains("[\($0)]: \t\($0 - 1)") }, "\(read)")
        let pymodbusClient = Peers.packageRoot.appendingPathComponent("Tests/ModbusTests/Peers/pymodbus_client.py").path
        let client = try await offPool { try Peers.run(Peers.python(), [pymodbusClient, "tcp", "127.0.0.1", "\(listener)"]) }
        let seen = try #require(try JSONSerialization.jsonObject(with: client.stdout) as? [String: Any], "\(client.text) \(client.stderr)")
        #expect(seen["read"] as? [Int] == Array(0..<10) && seen["after_write"] as? [Int] == [0, 1, 222, 333, 4], "\(seen)")
        #expect(seen["after_single"] as? [Int] == [444] && seen["coils"] as? [Bool] == [true, false, true], "\(seen)")
        #expect(seen["missing_exception"] as? Int == 2 && seen["pipelined"] as? [Int] == [5, 6, 7, 8, 9], "the server's own exception, passed through: \(seen)")
        _ = try await mbpoll(listener, ["-r", "11"], writing: ["1234"])
        #expect(try await mbpoll(listener, ["-r", "11"]).contains("[11]: \t1234"))
        let enip = try #require(service.enipServer?.port)
        let pycomm3 = """
            import sys, time
            from pycomm3 import LogixDriver
            with LogixDriver(f"127.0.0.1:{sys.argv[1]}") as plc:
                for _ in range(40):
                    tag = plc.read("PLC.R7")
                    if tag.error is None: break
                    time.sleep(0.25)
                print(tag.value, plc.write(("PLC.R7", 77)).error)
            """
        let tags = try await offPool { try Peers.run(Peers.python(), ["-c", pycomm3, "\(enip)"]) }
        #expect(tags.text == "7 None\n", "\(tags.text) \(tags.stderr)")
        #expect(await bus.request(Request.readHoldingRegisters(address: 7, count: 1).pdu, to: 1, priority: .forwarded) == [3, 2, 0, 77])

        let clients = [50, 51].map { FaultSuiteTests.LoadClient(port: listener, unit: 1, register: $0) }
        try await Task.sleep(for: .seconds(1))
        let before = clients.map(\.snapshot)
        #expect(before.allSatisfy { $0.right > 5 && $0.wrong.isEmpty }, "through the tcp line: \(before)")
        server.stop(signal: SIGKILL)
        try await Task.sleep(for: .seconds(1.5))
        let gone = clients.map(\.snapshot)
        #expect(zip(gone, before).allSatisfy { $0.refused > $1.refused && $0.wrong.isEmpty }, "refused while the server is gone: \(gone)")
        #expect(!bus.isUp)

        server = try pymodbus(port: port)
        defer { server.stop() }
        let back = Date().addingTimeInterval(10)
        while zip(clients.map(\.snapshot), gone).contains(where: { $0.right <= $1.right + 5 }) && Date() < back {
            try await Task.sleep(for: .milliseconds(100))
        }
        clients.forEach { $0.stop() }
        #expect(clients.allSatisfy { $0.join(within: 5) })
        let after = clients.map(\.snapshot)
        // The restarted server starts again from its own values (register N
        // holds N): a client whose write was refused while it was away may
        // read that back, and rightly so. Any other value would be wrong.
        let reallyWrong = zip(after, [50, 51]).map { tally, register in tally.wrong.filter { !$0.hasPrefix("[3, 2, 0, \(register)] ") } }
        #expect(zip(after, gone).allSatisfy { $0.right > $1.right + 5 && $0.unanswered == 0 } && reallyWrong.allSatisfy(\.isEmpty),
                "back without a restart: \(after.map(\.right)) right, \(after.map(\.unanswered)) unanswered, wrong: \(reallyWrong)")
        #expect(bus.isUp)
        await service.stop()
    }

    /// Eight clients at once through a line with eight requests in flight, to
    /// the libmodbus server: every answer is the client's own.
    @Test func eightClientsShareAPipelinedLineToTheLibmodbusServer() async throws {
        let server = try PeerProcess(Peers.built("libmodbus_server"), [])
        defer { server.stop(signal: SIGTERM) }
        let port = Int(try server.waitForLine(startingWith: "ready ")) ?? 0
        let service = try await gateway(tcpLine("c", port: port, extra: "max_in_flight = 8"), file: "libmodbus-line.toml")
        let listener = try #require(service.servers.first?.port)
        let clients = (20..<28).map { FaultSuiteTests.LoadClient(port: listener, unit: 1, register: UInt16($0)) }
        try await Task.sleep(for: .seconds(2))
        clients.forEach { $0.stop() }
        #expect(clients.allSatisfy { $0.join(within: 5) })
        let tallies = clients.map(\.snapshot)
        #expect(tallies.allSatisfy { $0.right > 10 && $0.wrong.isEmpty && $0.refused == 0 && $0.unanswered == 0 }, "\(tallies)")
        #expect(try await mbpoll(listener, ["-r", "1", "-c", "3"]).contains("[3]: \t2"))
        await service.stop()
    }

    /// Replies come back in any order and are matched by transaction id; a
    /// reply nobody asked for is dropped and counted; a remote that hangs up
    /// mid-transaction costs that transaction (0x0B) and nothing else.
    @Test func repliesAreMatchedByTransactionIDAndAHangUpCostsOneTransaction() async throws {
        let server = try ScriptedMBAPServer(batch: 4)
        defer { server.stop() }
        let service = try await gateway(tcpLine("s", port: server.port, extra: "max_in_flight = 4"), file: "scripted.toml")
        let bus = try #require(service.buses["s"])
        let replies = await withTaskGroup(of: (UInt16, [UInt8]?).self) { group in
            for register in UInt16(1)...4 {
                group.addTask { (register, await bus.request(Request.readHoldingRegisters(address: register, count: 1).pdu, to: 1, priority: .forwarded)) }
            }
            return await group.reduce(into: [UInt16: [UInt8]?]()) { $0[$1.0] = $1.1 }
        }
        #expect(server.mostHeld.load(ordering: .relaxed) == 4, "four requests were in flight at once")
        for register in UInt16(1)...4 {
            #expect(replies[register] == [3, 2, 0, UInt8(register * 10)], "register \(register): \(String(describing: replies[register]))")
        }
        #expect(bus.framerCounters.strays == 1 && bus.framerCounters.frames == 4, "\(bus.framerCounters)")
        #expect(service.status.lines.first?.strays == 1, "the status says so too")
        #expect(await bus.request(Request.readHoldingRegisters(address: 5, count: 1).pdu, to: 1, priority: .forwarded) == [0x83, 0x0B])
        #expect(await bus.request(Request.readHoldingRegisters(address: 6, count: 1).pdu, to: 1, priority: .forwarded) == [3, 2, 0, 60])
        #expect(bus.isUp && bus.slaves[1]?.breaker == .closed, "the hang-up opened no breaker")
        await service.stop()
    }

    /// A remote that takes every connection and drops it at once is tried
    /// again at most twice a second, not in a tight loop; its clients get
    /// honest refusals.
    @Test func aRemoteThatDropsEveryConnectionIsNotHammered() async throws {
        let listener = try SocketListener(host: "127.0.0.1", port: 0)
        let accepted = Atomic<Int>(0)
        let running = Atomic<Bool>(true)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { done.signal() }
            while running.load(ordering: .relaxed) {
                if listener.accept(within: .milliseconds(50), settings: SerialSettings()) != nil { accepted.add(1, ordering: .relaxed) }
            }
        }
        // A connection the dropper has not yet taken (under load) is silence until it does: a short timeout keeps the wait well under the client's 3 s.
        let service = try await gateway(tcpLine("dropper", port: listener.port, timeouts: (100, 500)), file: "dropper.toml")
        // Every request gets its refusal; under the whole suite's load one can take longer than 3 s.
        let client = FaultSuiteTests.LoadClient(port: try #require(service.servers.first?.port), unit: 1, register: 1, wait: 10_000)
        let (start, first) = (ContinuousClock.now, accepted.load(ordering: .relaxed))
        try await Task.sleep(for: .seconds(2))
        let (elapsed, connections) = (ContinuousClock.now - start, accepted.load(ordering: .relaxed) - first)
        client.stop()
        #expect(client.join(within: 25))
        await service.stop()
        running.store(false, ordering: .relaxed)
        _ = try await offPool { done.wait() }
        let tally = client.snapshot
        #expect(tally.right == 0 && tally.refused > 0 && tally.wrong.isEmpty && tally.unanswered == 0, "\(tally)")
        // Twice a second at most, and one more for the moment the count began.
        #expect(connections <= Int(elapsed.seconds * 2) + 1, "\(connections) connections in \(elapsed)")
    }

    /// pymodbus's ASCII server on a pty bus, with and without noise between
    /// and inside frames: every reply is right or an honest exception.
    @Test(arguments: [false, true]) func aSerialASCIILineReachesPymodbus(noise: Bool) async throws {
        let settings = SerialSettings(baud: 38400, parity: .none)
        let line = try VirtualBus(ends: 2, settings: settings, noise: noise ? LineNoise(garbage: 0.001) : .none)
        let slave = try PeerProcess(Peers.python(), [Self.pymodbusServer, "ascii", line.paths[1], "38400"])
        defer { slave.stop() }
        _ = try slave.waitForLine(startingWith: "ready ")
        let service = try await gateway("""
            [[line]]
            name = "ascii"
            kind = "serial-ascii"
            adapter = "\(line.paths[0])"
            baud = 38400
            parity = "none"
            timeout_min_ms = 500
            timeout_max_ms = 1000
            retries = 1
            [[route]]
            units = "1"
            line = "ascii"
            """, file: "ascii.toml")
        let listener = try #require(service.servers.first?.port)
        #expect(try await mbpoll(listener, ["-r", "1", "-c", "4"]).contains("[4]: \t3"))
        let client = FaultSuiteTests.LoadClient(port: listener, unit: 1, register: 30, honest: Set(1...0x0B))
        try await Task.sleep(for: .seconds(3))
        client.stop()
        #expect(client.join(within: 5))
        let tally = client.snapshot
        let framer = try #require(service.buses["ascii"]).framerCounters
        #expect(tally.right > 5 && tally.wrong.isEmpty && tally.unanswered == 0, "noise \(noise): \(tally)")
        #expect(framer.frames >= tally.right, "\(framer)")
        if noise { #expect(framer.noiseBytes + framer.crcErrors > 0, "the noise was seen and skipped: \(framer)") }
        await service.stop()
    }
}
