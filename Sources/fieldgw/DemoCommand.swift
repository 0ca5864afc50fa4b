import ArgumentParser
import Foundation
import EtherNetIP
import Gateway
import Logging
import Modbus
import NIOPosix
import Prometheus
import Serial

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The gateway on a simulated RS485 line with three slaves, no hardware needed.",
        discussion: """
            A line paced at the real speed of its baud rate carries three simulated slaves: \
            unit 1 answers at once, unit 2 is slow, unit 3 stays silent on a third of its \
            requests. The gateway serves them on Modbus/TCP, polls each once a second, and \
            keeps a line of load figures on screen. Stop it with Ctrl-C.
            """
    )

    @Option(name: .long, help: "The Modbus/TCP port on 127.0.0.1 (0 picks a free one).")
    var port = 1502

    @Option(name: .long, help: "The EtherNet/IP port on 127.0.0.1 (0 picks a free one).")
    var enipPort = 44818

    @Option(name: .long, help: "The status endpoint's port on 127.0.0.1 (GET /status for `fieldgw status`, GET /metrics for Prometheus; 0 picks a free one).")
    var statusPort = 8502

    @Option(name: .long, help: "The simulated line's baud rate.")
    var baud = 19200

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        // Bootstrapped before the line is made, so that its metrics reach /metrics.
        let registry = PrometheusCollectorRegistry.bootstrapped()
        let settings = SerialSettings(baud: baud)
        let line = try VirtualBus(ends: 4, settings: settings)
        let devices = (1...3).map { _ in Self.device() }
        let faults: [[ModbusFault]] = [[], [.delay(0.05...0.15)], [.silent(1.0 / 3)]]
        let slaves = (0..<3).map { index in
            SlaveThread(path: line.paths[index + 1], settings: settings, units: UnitMap(devices: [UInt8(index + 1): devices[index]]),
                        faults: faults[index])
        }
        let bus = Bus(name: "demo", port: try SerialPort(path: line.paths[0], settings: settings),
                      options: Bus.Options(health: .init(maximumTimeout: .milliseconds(300), failuresToOpen: 5, backoff: .seconds(2))),
                      logger: Logger(label: "fieldgw.demo"))
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: port, serving: Router(routes: Router.range(1...3, to: bus)),
                                                     group: MultiThreadedEventLoopGroup.singleton)
        let (tags, pollers) = try DeviceTags.table(for: Self.tagDevices, on: ["demo": bus])
        let enip = try await ENIPServer.start(host: "127.0.0.1", port: enipPort, router: MessageRouter(tags: tags),
                                              group: MultiThreadedEventLoopGroup.singleton)
        let status = try await startStatus(registry: registry, bus: bus, path: line.paths[0], pollers: pollers)
        introduce(port: server.port, enipPort: enip.port, statusPort: status?.port)
        let stop = StopSignal()
        let ticker = Task { await tick(devices: devices, pollers: pollers, bus: bus) }
        _ = await stop.wait()
        ticker.cancel()
        pollers.forEach { $0.stop() }
        try await server.close()
        try await enip.close()
        await status?.close()
        await bus.close()
        slaves.forEach { $0.stop() }
        ModbusSimCommand.say("\ndemo: stopped")
    }

    /// The status endpoint with /metrics; a port already taken costs only the endpoint, as in the gateway.
    private func startStatus(registry: PrometheusCollectorRegistry, bus: Bus, path: String, pollers: [Poller]) async throws -> StatusServer? {
        do {
            return try await StatusServer.start(host: "127.0.0.1", port: statusPort, group: MultiThreadedEventLoopGroup.singleton,
                                                metrics: registry) {
                GatewayStatus(buses: ["demo": bus], paths: ["demo": path], pollers: pollers)
            }
        } catch {
            ModbusSimCommand.say("demo: no status endpoint on 127.0.0.1:\(statusPort): \(SocketFailure.reason(of: error))")
            return nil
        }
    }

    /// Holding registers 40001-40010: 40001 counts seconds, the others hold 2..10.
    private static func device() -> ModbusDevice {
        let store = DataStore()
        store.define(.holdingRegisters, at: 0, values: [0] + (2...10).map(UInt16.init))
        return ModbusDevice(store: store)
    }

    /// Each slave as a structure tag Unit1..Unit3: Seconds (40001) and R2..R10 (40002-40010).
    private static var tagDevices: [Configuration.Device] {
        (1...3).map { unit in
            let members = [RegisterMember(name: "Seconds", address: ModbusAddress(40001)!, encoding: .uint)]
                + (2...10).map { RegisterMember(name: "R\($0)", address: ModbusAddress(40000 + $0)!, encoding: .int) }
            return Configuration.Device(tag: "Unit\(unit)", line: "demo", slave: UInt8(unit), members: members)
        }
    }

    private func introduce(port: Int, enipPort: Int, statusPort: Int?) {
        ModbusSimCommand.say("""
            demo: a simulated RS485 line at \(baud) baud, 8E1, with three slaves, each with holding registers 40001-40010:
              unit 1  answers at once (40001 counts seconds)
              unit 2  slow: answers after 50-150 ms
              unit 3  flaky: stays silent on a third of its requests (the gateway answers 0x0B)
            demo: Modbus/TCP on 127.0.0.1:\(port)
            demo: try  mbpoll -a 1 -r 1 -c 10 -p \(port) 127.0.0.1
                       mbpoll -a 3 -r 1 -c 10 -p \(port) 127.0.0.1
                       fieldgw modbus-client -a 127.0.0.1:\(port) --unit 2 40001-40010
            demo: EtherNet/IP on 127.0.0.1:\(enipPort): each slave is a structure tag Unit1..Unit3 (Seconds, R2..R10)
            demo: try  fieldgw enip-client -a 127.0.0.1:\(enipPort) Unit1.Seconds Unit2.R5 --list-tags
                       python3 -c "from pylogix import PLC; c = PLC('127.0.0.1'); c.Port = \(enipPort); print(c.Read('Unit1.Seconds'))"
            """)
        guard let statusPort else { return }
        let url = "http://127.0.0.1:\(statusPort)"
        ModbusSimCommand.say("""
            demo: status on \(url)/status, metrics (Prometheus) on \(url)/metrics
            demo: try  fieldgw status\(statusPort == 8502 ? "" : " --url \(url)/status")
            """)
    }

    /// Once a second: the counters move, and the load line is redrawn (on a
    /// terminal in place; otherwise a new line every five seconds).
    private func tick(devices: [ModbusDevice], pollers: [Poller], bus: Bus) async {
        let terminal = isatty(STDOUT_FILENO) != 0
        var seconds: UInt16 = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            seconds &+= 1
            for device in devices { try? device.store.write(.holdingRegisters, address: 0, values: [seconds]) }
            let text = Self.loadLine(pollers: pollers, bus: bus)
            if terminal {
                FileHandle.standardOutput.write(Data(("\r" + text + "\u{1B}[K").utf8))
            } else if seconds % 5 == 0 {
                ModbusSimCommand.say(text)
            }
        }
    }

    static func loadLine(pollers: [Poller], bus: Bus) -> String {
        let load = pollers.reduce(into: [0.0, 0.0, 0.0]) { sum, poller in
            sum[0] += poller.load.one
            sum[1] += poller.load.five
            sum[2] += poller.load.fifteen
        }
        let units = pollers.map { poller in
            "unit \(poller.slave) \(poller.online ? "online " : "offline") \(String(format: "%.3f", poller.load.one))"
        }
        let counters = bus.counters
        return "load 1/5/15 min: line " + load.map { String(format: "%.3f", $0) }.joined(separator: " ")
            + " | " + units.joined(separator: ", ")
            + " | \(counters.transactions) transactions, \(counters.timeouts) timeouts, \(counters.failedFast) failed fast"
    }
}
