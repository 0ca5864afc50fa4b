import ArgumentParser
import Foundation
import EtherNetIP
import Gateway
import Logging
import Modbus
import NIOPosix
import Prometheus
import Serial
import Sparkplug
import Web

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

    @Option(name: [.customLong("web-port"), .customLong("status-port")],
            help: "The web server's port on 127.0.0.1: the dashboard, /api, /status for `fieldgw status`, /metrics for Prometheus (0 picks a free one).")
    var statusPort = 8502

    @Option(name: .long, help: "The simulated line's baud rate.")
    var baud = 19200

    @Option(name: .long, help: "Publish the three slaves as a Sparkplug B edge node to this broker (mqtt://HOST:PORT).")
    var mqtt: String?

    @Option(name: .long, help: "The edge node id with --mqtt (group id: demo).")
    var edgeNode = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "fieldgw"

    func run() async throws {
        let stop = await StopSignal()
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
        defer { slaves.forEach { $0.stop() } }
        // The edge node's spool and bdSeq live for this run only.
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-demo-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let configuration: Configuration
        do {
            configuration = try Configuration(toml: configurationText(adapter: line.paths[0], spool: spool), file: "(the demo's own)")
        } catch {
            // Only --mqtt and --edge-node can make the demo's own configuration wrong.
            Console.say("demo: --mqtt \(mqtt ?? "") --edge-node \(edgeNode): \(error.reason)")
            throw ExitCode(CommandFailure.configuration)
        }
        let web = Latch<WebServer>()
        let service: GatewayService
        do {
            service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton,
                                                     logger: Logger(label: "fieldgw.demo"), metrics: registry,
                                                     signals: [.sigterm, .sigint]) { service in
                let server = WebServer(settings: configuration.web!, gateway: service, metrics: registry, logger: Logger(label: "fieldgw.web"))
                web.set(server)
                let node = configuration.mqtt.map { [EdgeNode.part($0, gateway: service, logger: Logger(label: "fieldgw.demo"))] } ?? []
                return node + [server.part()]
            }
        } catch {
            Console.say("demo: \(error)")
            throw ExitCode(CommandFailure.unavailable)
        }
        introduce(service: service, configuration: configuration, web: web.value?.bound.value)
        let ticker = Task { await tick(devices: devices, service: service) }
        stop.shutsDown(service.group)
        try? await service.wait()
        ticker.cancel()
        Console.say("\ndemo: stopped")
    }

    /// The demo's gateway, as a configuration file would say it: one line,
    /// units 1-3 routed to it, each slave a structure tag, the web server.
    private func configurationText(adapter: String, spool: String) -> String {
        let members = ["[[device.member]]\nname = \"Seconds\"\nregister = \"40001\"\ntype = \"UINT\"\nread_only = false"]
            + (2...10).map { "[[device.member]]\nname = \"R\($0)\"\nregister = \"\(40000 + $0)\"\ntype = \"INT\"" }
        let units = (1...3).map { unit in
            "[[device]]\ntag = \"Unit\(unit)\"\nline = \"demo\"\nslave = \(unit)\nperiod_s = 1.0\n" + members.joined(separator: "\n")
        }
        return """
            [web]
            bind = "127.0.0.1:\(statusPort)"
            writes = true
            [[line]]
            name = "demo"
            adapter = "\(adapter)"
            baud = \(baud)
            timeout_max_ms = 300
            failures_to_open = 5
            backoff_s = 2.0
            [[route]]
            units = "1-3"
            line = "demo"
            [[listener]]
            bind = "127.0.0.1:\(port)"
            [enip]
            bind = "127.0.0.1:\(enipPort)"
            \(mqttText(spool: spool))
            """ + units.joined(separator: "\n")
    }

    private func mqttText(spool: String) -> String {
        guard let mqtt else { return "" }
        return """
            [mqtt]
            brokers = ["\(mqtt)"]
            group_id = "demo"
            edge_node_id = "\(edgeNode)"
            spool_directory = "\(spool)"

            """
    }

    /// Holding registers 40001-40010: 40001 counts seconds, the others hold 2..10.
    private static func device() -> ModbusDevice {
        let store = DataStore()
        store.define(.holdingRegisters, at: 0, values: [0] + (2...10).map(UInt16.init))
        return ModbusDevice(store: store)
    }

    private func introduce(service: GatewayService, configuration: Configuration, web: (host: String, port: Int)?) {
        let port = service.servers.first?.port ?? self.port
        let enipPort = service.enipServer?.port ?? self.enipPort
        Console.say("""
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
        if let mqtt = configuration.mqtt {
            Console.say("demo: Sparkplug B edge node demo/\(mqtt.edgeNodeID) on \(self.mqtt ?? ""): topics spBv1.0/demo/#")
        }
        guard let web else { return }
        let url = "http://127.0.0.1:\(web.port)"
        Console.say("""
            demo: dashboard on \(url)/ (JSON under \(url)/api/status, /api/lines, /api/devices, /api/events)
            demo: status on \(url)/status, metrics (Prometheus) on \(url)/metrics
            demo: try  fieldgw status\(web.port == 8502 ? "" : " --url \(url)/status")
                       curl -H 'Content-Type: application/json' -d 1234 \(url)/api/devices/Unit1/R2
            """)
    }

    /// Once a second: the counters move, and the load line is redrawn (on a
    /// terminal in place; otherwise a new line every five seconds).
    private func tick(devices: [ModbusDevice], service: GatewayService) async {
        let terminal = isatty(STDOUT_FILENO) != 0
        var seconds: UInt16 = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            seconds &+= 1
            for device in devices { try? device.store.write(.holdingRegisters, address: 0, values: [seconds]) }
            guard let bus = service.buses["demo"] else { continue }
            let text = Self.loadLine(pollers: service.pollers.sorted { $0.slave < $1.slave }, bus: bus)
            if terminal {
                FileHandle.standardOutput.write(Data(("\r" + text + "\u{1B}[K").utf8))
            } else if seconds % 5 == 0 {
                Console.say(text)
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
