import Foundation
@testable import Gateway
import Logging
import Modbus
import NIOPosix
import Serial
import TestSupport
import Testing

/// Reload as a difference, with a client writing and reading without pause
/// through it: the unchanged line loses nothing, the changed one restarts,
/// a new listener starts, a removed poller stops; a bad file changes nothing.
@Suite(.ownThreads) struct ReloadTests {
    private let settings = SerialSettings(baud: 38400)

    private func text(a: String, b: String, bTimeout: Int, extra: String = "") -> String {
        """
        [web]
        enabled = false
        [[line]]
        name = "a"
        adapter = "\(a)"
        baud = 38400
        # A loaded machine must not be mistaken for a lost transaction: only a reload could lose one here.
        timeout_min_ms = 2000
        timeout_max_ms = 3000
        [[line]]
        name = "b"
        adapter = "\(b)"
        baud = 38400
        timeout_max_ms = \(bTimeout)
        [[route]]
        units = "1"
        line = "a"
        [[route]]
        units = "2"
        line = "b"
        offset = 1
        [[listener]]
        bind = "127.0.0.1:0"
        \(extra)
        """
    }

    @Test func anUnchangedLineLosesNoTransactionWhileAnotherRestarts() async throws {
        let lineA = try VirtualBus(ends: 2, settings: settings)
        let lineB = try VirtualBus(ends: 2, settings: settings)
        let slaves = [SlaveThread(path: lineA.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(0..<10))])),
                      SlaveThread(path: lineB.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(0..<10))]))]
        defer { slaves.forEach { $0.stop() } }
        let first = try Configuration(toml: text(a: lineA.paths[0], b: lineB.paths[0], bTimeout: 300,
                                                 extra: "[[poll]]\nline = \"b\"\nslave = 1\naddresses = [\"40001\"]\nperiod_s = 0.1"), file: "one.toml")
        let capture = LogCapture()
        let service = try await GatewayService.start(first, group: MultiThreadedEventLoopGroup.singleton, logger: capture.logger(label: "test.reload"))
        let port = try #require(service.servers.first?.port)
        let busA = try #require(service.buses["a"])
        let busB = try #require(service.buses["b"])
        let client = FaultSuiteTests.LoadClient(port: port, unit: 1, register: 3)
        try await Task.sleep(for: .milliseconds(300))

        let second = try Configuration(toml: text(a: lineA.paths[0], b: lineB.paths[0], bTimeout: 200,
                                                  extra: "[[listener]]\nbind = \"127.0.0.1:0\"\nread_only = true"), file: "two.toml")
        let before = client.snapshot.right
        let report = await service.reload(second)
        try await Task.sleep(for: .milliseconds(300))
        client.stop()
        #expect(client.join(within: 5))
        let tally = client.snapshot

        #expect(report.kept.contains("line a") && report.restarted == ["line b"], "\(report)")
        #expect(report.stopped == ["poller b/1"] && report.started.contains { $0.hasPrefix("Modbus/TCP 127.0.0.1:0") }, "\(report)")
        #expect(report.failed.isEmpty)
        #expect(tally.right > before && tally.refused == 0 && tally.unanswered == 0 && tally.wrong.isEmpty,
                "line a's client lost nothing through the reload: \(tally)")
        #expect(service.buses["a"] === busA && service.buses["b"] !== busB, "a kept its Bus, b has a new one")
        // The old Bus let its adapter go before the new one opened it: up at once, every time.
        #expect(service.buses["b"]?.isUp == true)
        for round in 0..<6 {
            let report = await service.reload(try Configuration(toml: text(a: lineA.paths[0], b: lineB.paths[0], bTimeout: 250 + round,
                                                                           extra: "[[listener]]\nbind = \"127.0.0.1:0\"\nread_only = true"), file: "n.toml"))
            #expect(report.restarted == ["line b"] && service.buses["b"]?.isUp == true, "round \(round): \(report)")
        }
        #expect(!capture.records.contains { $0.message.contains("busy") }, "\(capture.records.map(\.message))")
        #expect(service.pollers.isEmpty && service.servers.count == 2)
        #expect(capture.records.contains { $0.message.hasPrefix("reload: ") && $0.metadata["event"] == "reload" })
        #expect(service.events.recent.contains { $0.event == "reload" })

        // Line b works after its restart, through the new read-only listener too.
        for server in service.servers {
            let connection = try RawConnection(port: server.port)
            connection.send(FaultSuiteTests.mbap(9, unit: 2, [3, 0, 4, 0, 2]))
            #expect(FaultSuiteTests.replyPDU(connection, transaction: 9) == [3, 4, 0, 4, 0, 5])
        }
        await service.stop()
    }

    /// A line whose adapter is locked for a moment as it starts is up at
    /// once. Here a descriptor of the test's own holds the lock for 30 ms,
    /// as a forked child's copy of a port just closed holds it until the
    /// child execs (which made a reload's restarted line find its adapter
    /// busy, once in six runs of the gateway's tests).
    @Test func aLineWhoseAdapterIsLockedForAMomentIsUpAtOnce() async throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let path = line.paths[0]
        let holder = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(holder >= 0 && flock(holder, LOCK_EX | LOCK_NB) == 0)
        Thread.detachNewThread {
            usleep(30_000)
            close(holder)
        }
        let capture = LogCapture()
        let settings = settings
        let bus = Bus(name: "b", open: { try SerialPort(path: path, settings: settings) }, logger: capture.logger(label: "test.busy"))
        #expect(bus.isUp && !capture.records.contains { $0.message.contains("busy") }, "\(capture.records.map(\.message))")
        await bus.close()
    }

    @Test func aBadFileChangesNothingAndSaysWhy() async throws {
        let lineA = try VirtualBus(ends: 2, settings: settings)
        let lineB = try VirtualBus(ends: 2, settings: settings)
        let configuration = try Configuration(toml: text(a: lineA.paths[0], b: lineB.paths[0], bTimeout: 300), file: "good.toml")
        let capture = LogCapture()
        let service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: capture.logger(label: "test.reload"))
        let buses = service.buses
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-bad-\(UUID().uuidString).toml").path
        try text(a: lineA.paths[0], b: lineB.paths[0], bTimeout: -5).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = await #expect(throws: ConfigurationError.self) { try await service.reload(file: path) }
        #expect(error?.description.hasPrefix("\(path): line[1].timeout_max_ms: ") == true, "\(String(describing: error))")
        #expect(capture.records.contains { $0.level == .error && $0.message.hasPrefix("reload refused, nothing changed: \(path): line[1].timeout_max_ms") })
        #expect(service.buses["a"] === buses["a"] && service.buses["b"] === buses["b"])
        #expect(service.configuration.lines[1].options.health.maximumTimeout == .milliseconds(300), "the configuration in force is the good one")
        await service.stop()
    }
}
