import ArgumentParser
import Foundation
import Gateway
import Modbus
import NIOPosix
import Prometheus
import Serial
import Synchronization
import Threads
import Web

extension SerialSettings.Parity: ExpressibleByArgument {}

/// The serial settings of the Modbus commands that may talk RTU.
struct SerialOptions: ParsableArguments {
    @Option(name: .long, help: "Serial baud rate.")
    var baud = 19200

    @Option(name: .long, help: "Serial parity: none, even, odd, mark or space.")
    var parity: SerialSettings.Parity = .even

    @Option(name: .long, help: "Serial stop bits, 1 or 2.")
    var stopBits = 1

    var settings: SerialSettings { SerialSettings(baud: baud, parity: parity, stopBits: stopBits) }
}

struct ModbusSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modbus-sim",
        abstract: "Simulate Modbus devices on Modbus/TCP or on a serial line (RTU or ASCII; local, or RTU over TCP), with cpppo's register syntax.",
        discussion: """
            Each REGISTERS argument is BEGIN[-END][=VALUE[,VALUE...]] with cpppo's addresses \
            (1-9999 coils, 10001- discrete inputs, 30001- input registers, 40001- holding \
            registers; six digits for the whole 65536). Values repeat to fill the range and \
            may be hex (0x1F). Example: fieldgw modbus-sim -a :1502 40001-40100=99 1-16=1,0
            Every unit id shares the registers unless --unit names the ones to answer.
            --evil delay:0.1-0.5 --evil corrupt:unit makes a device that answers late and wrongly.
            """
    )

    @Option(name: [.short, .long], help: "HOST:PORT to serve Modbus/TCP on (\":1502\" is every interface), or a serial device path for RTU.")
    var address = ":502"

    @Option(name: .long, help: "Serve Modbus/RTU on this serial device instead of TCP.")
    var rtu: String?

    @Option(name: .long, help: ArgumentHelp("Serve raw RTU frames over TCP on [HOST]:PORT (loopback unless a host is given), as a device behind a serial device server (ser2net, a Moxa NPort) appears; one client at a time.", valueName: "[HOST]:PORT"))
    var rtuOverTcp: String?

    @Flag(name: .long, help: "Modbus ASCII instead of RTU on the serial device (or over TCP).")
    var ascii = false

    @Option(name: .long, help: "Unit ids to answer, e.g. 1,3 (default: every unit).")
    var unit: String?

    @Option(name: .long, help: "Threads serving Modbus/TCP clients (the kernel shares connections among them). One serves over 100,000 requests a second; more help only with many busy connections and cores to spare.")
    var threads = 1

    @Option(name: .long, help: "Modbus/TCP clients at once. At the limit a new client closes the longest-idle one (one with no reply due); it is refused only when every client is busy.")
    var connectionLimit = 1024

    @Option(name: .long, help: ArgumentHelp("Close a Modbus/TCP client that sends nothing for SECONDS (0: never). A request begun and not finished within 5 s closes its connection too.", valueName: "SECONDS"))
    var idleTimeout = 300.0

    @Option(name: .long, help: ArgumentHelp("Misbehave on every reply, after cpppo: truncate, delay[:SECONDS[-SECONDS]] (default 5), corrupt[:FIELD] with FIELD transaction (the default on TCP), protocol, unit, function, registers or crc (the default on RTU), silent[:FRACTION] (no reply to that fraction of requests). May be repeated.", valueName: "FAULT"))
    var evil: [String] = []

    @OptionGroup(title: "Serial line (RTU)")
    var serial: SerialOptions

    @Option(name: .long, help: "[HOST]:PORT to serve a web API in cpppo's scheme (/api/<group>/<match>/<command>/<value>: registers, evil, options, server, connections) and /metrics (Prometheus) on; loopback unless a host is given.")
    var web: String?

    @Argument(help: "Registers, e.g. 40001-40100=99.")
    var registers: [String] = []

    func run() async throws {
        let store = DataStore()
        for text in registers {
            do { try RegisterSpec(parsing: text).apply(to: store) } catch { throw ValidationError(error.description) }
        }
        try Console.checkThreads(threads)
        guard connectionLimit >= 1, idleTimeout >= 0 else { throw ValidationError("--connection-limit must be at least 1, --idle-timeout not negative") }
        let units = try unitMap(ModbusDevice(store: store))
        if ascii && !evil.isEmpty { throw ValidationError("--evil damages Modbus/TCP and RTU replies, not ASCII") }
        if let rtuOverTcp {
            try await serveSerial(.socket(try Console.endpoint(rtuOverTcp, option: "--rtu-over-tcp", loopback: true)), units: units, faults: faults(tcp: false), store: store)
        } else if let path = rtu ?? (address.hasPrefix("/") ? address : nil) {
            try await serveSerial(.device(path), units: units, faults: faults(tcp: false), store: store)
        } else {
            try await serveTCP(units: units, faults: faults(tcp: true), store: store)
        }
    }

    /// The --evil faults; a bare `corrupt` damages the transaction id on TCP
    /// (as cpppo does) and the CRC on RTU, which has no transaction id.
    private func faults(tcp: Bool) throws -> [ModbusFault] {
        try evil.map { text in
            let fault: ModbusFault
            do { fault = try ModbusFault(parsing: text == "corrupt" && !tcp ? "corrupt:crc" : text) } catch {
                throw ValidationError("--evil \(error)")
            }
            guard fault.applies(toTCP: tcp) else {
                throw ValidationError("--evil \"\(text)\": Modbus/\(tcp ? "TCP" : "RTU") replies have no such field")
            }
            return fault
        }
    }

    private func unitMap(_ device: ModbusDevice) throws -> UnitMap {
        guard let unit else { return UnitMap(fallback: device) }
        var devices: [UInt8: ModbusDevice] = [:]
        for item in unit.split(separator: ",") {
            guard let id = UInt8(item), (1...247).contains(id) else { throw ValidationError("--unit: \"\(item)\" is not a unit id 1-247") }
            devices[id] = device
        }
        return UnitMap(devices: devices)
    }

    private func serveTCP(units: UnitMap, faults: [ModbusFault], store: DataStore) async throws {
        let (host, port) = try Console.endpoint(address)
        let metricsAddress = try web.map { try Console.endpoint($0, option: "--web", defaultPort: 8502, loopback: true) }
        let stop = await StopSignal()
        let registry = PrometheusCollectorRegistry.bootstrapped()
        // With the web API the faults can change while it serves: a switch even when there are none yet.
        let faultSwitch = web == nil && faults.isEmpty ? nil : FaultSwitch(faults)
        let (threads, connectionLimit, idleTimeout, tracking) = (threads, connectionLimit, idleTimeout, web != nil)
        let start: @Sendable (Int) async throws -> ModbusTCPServer = { port in
            try await ModbusTCPServer.start(host: host, port: port, serving: DeviceServing(units: units),
                                            group: MultiThreadedEventLoopGroup.singleton, threads: threads, connectionLimit: connectionLimit,
                                            timeouts: .init(idle: idleTimeout > 0 ? .milliseconds(Int(idleTimeout * 1000)) : nil),
                                            faultSwitch: faultSwitch, metrics: ListenerMetrics(listener: "\(host):\(port)"), trackClients: tracking)
        }
        try await CommandFailure.reporting("modbus-sim") {
            let first = try await Console.listening("Modbus/TCP", host, port) { try await start(port) }
            let bound = first.port
            let current = Mutex<ModbusTCPServer?>(first)
            let switching = Mutex(false)
            Console.say("modbus-sim: Modbus/TCP on \(host):\(bound)")
            Console.say(Self.cpppoStarted("Modbus/TCP", address: host.contains(":") ? "[\(host)]:\(bound)" : "\(host):\(bound)"))
            let controls = ModbusSimControls(
                host: host, port: bound, store: store, faults: faultSwitch ?? FaultSwitch(),
                clients: { current.withLock { $0?.clients ?? [] } },
                disconnect: { client in current.withLock { $0?.disconnect(client) } },
                setDisabled: { disable in
                    // One switch at a time: two enables at once would both bind (SO_REUSEPORT with --threads).
                    while !switching.withLock({ busy in defer { busy = true }; return !busy }) { try? await Task.sleep(for: .milliseconds(5)) }
                    defer { switching.withLock { $0 = false } }
                    if disable {
                        let server = current.withLock { server in defer { server = nil }; return server }
                        try? await server?.close(grace: .zero)
                    } else if current.withLock({ $0 == nil }) {
                        let server = try await start(bound)
                        current.withLock { $0 = server }
                    }
                },
                isDisabled: { current.withLock { $0 == nil } },
                done: { stop.trigger("server/control/done") })
            let close: @Sendable () async -> Void = {
                let server = current.withLock { server in defer { server = nil }; return server }
                try? await server?.close()
            }
            try await Serving.run("modbus-sim", parts: [Part("Modbus/TCP", stop: close)], web: metricsAddress,
                                  registry: registry, stop: stop, simulator: .modbus(controls))
        }
    }

    /// cpppo's modbus_sim line, which scripts written for it wait for.
    private static func cpppoStarted(_ kind: String, address: String) -> String {
        "Success; Started \(kind) Simulator; PID = \(getpid()); address = \(address)"
    }

    /// Where a serial slave serves: a device, or TCP connections carrying its bytes.
    private enum Place {
        case device(String)
        case socket((String, Int))
    }

    /// The serial slave (RTU or ASCII) serves on a thread of its own (its
    /// reads block), as a part that the group's shutdown stops within a
    /// tenth of a second.
    private func serveSerial(_ place: Place, units: UnitMap, faults: [ModbusFault], store: DataStore) async throws {
        let (settings, ascii) = (serial.settings, ascii)
        let metricsAddress = try web.map { try Console.endpoint($0, option: "--web", defaultPort: 8502, loopback: true) }
        let stop = await StopSignal()
        let registry = PrometheusCollectorRegistry.bootstrapped()
        try await CommandFailure.reporting("modbus-sim") {
            let stopping = Atomic<Bool>(false)
            let opened = Latch<Result<String, CommandFailure>>()
            let ended = Latch<Void>()
            let faultSwitch = FaultSwitch(faults)
            let serve: @Sendable (SerialPort) throws -> Void = { port in
                if ascii {
                    try ASCIISlave(port: port, units: units).serve { !stopping.load(ordering: .relaxed) }
                } else {
                    try RTUSlave(port: port, units: units, faultSwitch: faultSwitch).serve { !stopping.load(ordering: .relaxed) }
                }
            }
            let framing = ascii ? "Modbus ASCII" : "Modbus/RTU"
            WorkerThread.detach(name: "modbus-sim serial") {
                defer { ended.set(()) }
                Self.serveSerially(place, settings: settings, framing: framing, running: { !stopping.load(ordering: .relaxed) }, opened: opened, serve: serve)
            }
            Console.say("modbus-sim: " + (try await opened.wait().get()))
            if !ascii, case .device(let path) = place { Console.say(Self.cpppoStarted("Modbus/RTU", address: path)) }
            var controls = ModbusSimControls(host: "", port: 0, store: store, faults: faultSwitch, clients: nil, disconnect: nil,
                                             setDisabled: nil, isDisabled: { false }, done: { stop.trigger("server/control/done") })
            controls.evil = !ascii
            try await Serving.run("modbus-sim", parts: [Part(framing, stop: {
                stopping.store(true, ordering: .relaxed)
                await ended.wait()
            })], web: metricsAddress, registry: registry, stop: stop, simulator: .modbus(controls))
        }
    }

    /// On the serving thread: opens the place, says where (or why not) through
    /// `opened`, and serves; over TCP, one client after another.
    private static func serveSerially(_ place: Place, settings: SerialSettings, framing: String, running: () -> Bool,
                                      opened: Latch<Result<String, CommandFailure>>, serve: (SerialPort) throws -> Void) {
        do {
            switch place {
            case .device(let path):
                let port = try SerialPort(path: path, settings: settings)
                opened.set(.success("\(framing) on \(path), \(settings.baud) baud"))
                try serve(port)
            case .socket(let (host, port)):
                let listener = try SocketListener(host: host, port: port)
                opened.set(.success("\(framing) over TCP on \(host):\(listener.port)"))
                while running() {
                    guard let client = listener.accept(within: .milliseconds(100), settings: settings) else { continue }
                    // A client that hangs up ends only its own connection.
                    try? serve(client)
                }
            }
        } catch {
            if opened.value == nil {
                opened.set(.failure(CommandFailure("\(error)", status: CommandFailure.unavailable)))
            } else {
                Console.say("modbus-sim: \(error)")
            }
        }
    }
}
