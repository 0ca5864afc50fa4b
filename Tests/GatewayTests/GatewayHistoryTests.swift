import Foundation
@testable import Gateway
import Logging
import Modbus
import NIOPosix
import Prometheus
import Serial
import Synchronization
import TestSupport
import Testing

/// `[history]`: a gateway polling a Modbus/TCP device records what changes
/// and what is written; `fieldgw history` reads it back.
@Suite(.ownThreads) struct GatewayHistoryTests {
    @Test func polledChangesAndWritesAreRecorded() throws {
        let directory = try Peers.scratchDirectory("gwhistory").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sim = try PeerProcess(try Peers.fieldgw(), ["modbus-sim", "-a", "127.0.0.1:0", "--web", "127.0.0.1:0", "40001-40002=7"])
        defer { sim.stop() }
        let device = try sim.waitForLine(startingWith: "modbus-sim: Modbus/TCP on 127.0.0.1:")
        let web = Int(try sim.waitForLine(startingWith: "modbus-sim: web API on http://127.0.0.1:").prefix { $0.isNumber })!
        let config = directory + "/gateway.toml"
        try """
            [web]
            enabled = false
            [[line]]
            name = "plc"
            kind = "tcp"
            address = "127.0.0.1:\(device)"
            [[route]]
            units = "1"
            line = "plc"
            [[poll]]
            line = "plc"
            slave = 1
            addresses = ["40001-40002"]
            period_s = 0.1
            [[listener]]
            bind = "127.0.0.1:0"
            [history]
            path = "\(directory)/plant.hst"
            compression = "xz"
            fsync_interval = 0
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let gateway = try PeerProcess(try Peers.fieldgw(), ["gateway", "--config", config])
        defer { gateway.stop() }
        let port = String(try gateway.waitForLine(startingWith: "gateway: Modbus/TCP on 127.0.0.1:"))
        #expect(try gateway.waitForLine(startingWith: "gateway: history in ") == "\(directory)/plant.hst")
        let history = { try Peers.run(try Peers.fieldgw(), ["history", "\(directory)/plant.hst"]).text }
        func waitFor(_ text: String) throws -> String {
            let deadline = Date().addingTimeInterval(15)
            while true {
                let seen = try history()
                if seen.contains(text) || Date() > deadline { return seen }
                usleep(100_000)
            }
        }
        #expect(try waitFor("[\"plc\", 1]\t{\"40001\": 7, \"40002\": 7}").contains("[\"plc\", 1]\t{\"40001\": 7, \"40002\": 7}"))
        // A change at the device: the next poll records the one register that moved.
        _ = try Peers.run(try Peers.program("curl"), ["-sf", "http://127.0.0.1:\(web)/api/registers/40002/value=9"])
        #expect(try waitFor("[\"plc\", 1]\t{\"40002\": 9}").contains("[\"plc\", 1]\t{\"40002\": 9}"))
        // A write through the gateway: recorded as written, then as polled.
        let write = try Peers.run(try Peers.fieldgw(), ["modbus-client", "-a", "127.0.0.1:\(port)", "40001=12"])
        #expect(write.status == 0, "\(write.text) \(write.stderr)")
        let seen = try waitFor("[\"plc\", 1]\t{\"40001\": 12}")
        #expect(seen.contains("[\"plc\", 1, \"write\"]\t{\"40001\": 12}") && seen.contains("[\"plc\", 1]\t{\"40001\": 12}"), "\(seen)")
        #expect(seen.split(separator: "\n").count == 4, "nothing recorded twice: \(seen)")
    }

    /// A disk that stops taking writes stalls the history alone. Here the
    /// history file is a pipe that nobody reads, a page long, while the
    /// slave's registers change every cycle: once the pipe is full the
    /// history's writes block, and the poller, on the event loop it shares
    /// with the tags, assemblies and MQTT, goes on polling.
    @Test func aStalledHistoryFileStallsOnlyTheHistory() async throws {
        let directory = try Peers.scratchDirectory("gwstall").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/plant.hst"
        try #require(mkfifo(path, 0o644) == 0)
        let reader = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        try #require(reader >= 0)
        _ = fcntl(reader, 1031, 4096)  // F_SETPIPE_SZ, which Glibc's Swift module leaves out: the smallest pipe
        let settings = SerialSettings(baud: 19200)
        let line = try VirtualBus(ends: 2, settings: settings)
        let device = holdingDevice(Array(repeating: 0, count: 20))
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: device]))
        defer { slave.stop() }
        let changing = Atomic(true)
        Thread.detachNewThread {
            var value: UInt16 = 0
            while changing.load(ordering: .relaxed) {
                value &+= 1
                try? device.store.write(.holdingRegisters, address: 0, values: Array(repeating: value, count: 20))
                usleep(5000)
            }
        }
        defer { changing.store(false, ordering: .relaxed) }
        let configuration = try Configuration(toml: """
            [web]
            enabled = false
            [[line]]
            name = "plc"
            adapter = "\(line.paths[0])"
            [[poll]]
            line = "plc"
            slave = 1
            addresses = ["40001-40020"]
            period_s = 0.05
            [[listener]]
            bind = "127.0.0.1:0"
            [history]
            path = "\(path)"
            """, file: "stall.toml")
        let history = try #require(configuration.history)
        let service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"),
                                                     attachments: { [GatewayHistorian.part(history, gateway: $0, logger: Logger(label: "test"))] })
        let poller = try #require(service.poller(line: "plc", slave: 1))
        // Full once a byte more does not fit (the history's next line then waits for room).
        let probe = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        #expect(try await eventually { write(probe, "x", 1) == -1 && errno == EAGAIN }, "the history filled the pipe")
        try await Task.sleep(for: .milliseconds(200))
        let before = poller.cycles
        try await Task.sleep(for: .seconds(1))
        #expect(poller.cycles - before >= 5, "the poller went on while the history could not write: \(poller.cycles - before) cycles in 1 s")
        // Read the pipe to its end, so that the history writes what waits and the gateway stops.
        _ = fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) & ~O_NONBLOCK)
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while read(reader, &buffer, buffer.count) > 0 {}
            close(reader)
            drained.signal()
        }
        close(probe)
        await service.stop()
        #expect(drained.wait(timeout: .now() + 30) == .success, "the history closed its file once it could write")
    }

    @Test func aBadHistoryTableNamesItsKey() throws {
        for (text, key, reason) in [("[history]\nkeep = 3", "history.path", "required"),
                                    ("[history]\npath = \"/x.hst\"\ncompression = \"zip\"", "history.compression", "\"zip\" is not gzip, bzip2, xz or none"),
                                    ("[history]\npath = \"/x.hst\"\nmax_bytes = 10", "history.max_bytes", "10 is outside 4096")] {
            let error = #expect(throws: ConfigurationError.self) { try Configuration(toml: "[[listener]]\nbind = \"127.0.0.1:0\"\n" + text, file: "h.toml") }
            #expect(error?.key == key && (error?.reason.contains(reason) ?? false), "\(String(describing: error))")
        }
        let fine = try Configuration(toml: "[[listener]]\nbind = \"127.0.0.1:0\"\n[history]\npath = \"/x.hst\"\nmax_age = 3600\nkeep = 4", file: "h.toml")
        #expect(fine.history?.rotation?.maxAge == 3600 && fine.history?.rotation?.keep == 4 && fine.history?.sync == .never)
    }

    /// Past its limit, while the disk holds the history's thread, a new
    /// record is dropped and counted; what was taken is written, in order.
    @Test func recordsPastTheLimitAreDroppedAndCounted() {
        let registry = PrometheusCollectorRegistry()
        let outbox = HistoryOutbox(limit: 3, logger: Logger(label: "test"), metrics: PrometheusMetricsFactory(registry: registry))
        let written = Mutex<[Int]>([])
        let disk = DispatchSemaphore(value: 0), writing = DispatchSemaphore(value: 0)
        #expect(outbox.send { writing.signal(); disk.wait(); written.withLock { $0.append(0) } })
        writing.wait()
        let taken = (1...5).map { index in outbox.send { written.withLock { $0.append(index) } } }
        #expect(taken == [true, true, true, false, false] && outbox.dropped == 2)
        disk.signal()
        outbox.finish()
        #expect(written.withLock { $0 } == [0, 1, 2, 3])
        #expect(!outbox.send {}, "nothing is taken once finished")
        let text = String(decoding: MetricsHelp.render(registry), as: UTF8.self)
        #expect(text.contains("fieldgw_history_records_dropped_total 3"), "\(text)")
    }
}
