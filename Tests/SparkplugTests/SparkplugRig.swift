import Foundation
import Gateway
import Logging
import Modbus
import NIOPosix
import Serial
import Sparkplug
import TestSupport

/// A gateway on a pty bus with two RTU slaves (unit 1: the device `Pump`,
/// unit 2: `Tank`), publishing to `brokerPort` as an edge node, with a spool
/// directory of the test's own.
final class SparkplugRig: @unchecked Sendable {
    let bus: VirtualBus
    let pump: SlaveThread
    private(set) var tank: SlaveThread?
    let pumpStore: DataStore
    let tankStore: DataStore
    let serial = SerialSettings(baud: 38400)
    let spool: String
    let edge: String
    private(set) var service: GatewayService
    private let settings: String
    private let brokerPort: Int

    init(brokerPort: Int, mode: String = "sparkplug", period: Double = 0.1, extra: String = "", spool: String? = nil,
         broker: String? = nil) async throws {
        bus = try VirtualBus(ends: 3, settings: serial)
        pumpStore = DataStore()
        pumpStore.define(.holdingRegisters, at: 0, values: [7, 250, 3, 0xFFFE, 0, 0])
        pumpStore.define(.coils, at: 0, values: [1])
        tankStore = DataStore()
        tankStore.define(.holdingRegisters, at: 0, values: [500])
        pump = SlaveThread(path: bus.paths[1], settings: serial, units: UnitMap(devices: [1: ModbusDevice(store: pumpStore)]))
        tank = SlaveThread(path: bus.paths[2], settings: serial, units: UnitMap(devices: [2: ModbusDevice(store: tankStore)]))
        self.spool = spool ?? FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-spool-\(UUID().uuidString)").path
        edge = "edge-\(UUID().uuidString.prefix(8))"
        self.brokerPort = brokerPort
        settings = """
            [mqtt]
            brokers = ["\(broker ?? "mqtt://127.0.0.1:\(brokerPort)")"]
            group_id = "plant"
            edge_node_id = "\(edge)"
            mode = "\(mode)"
            spool_directory = "\(self.spool)"
            reconnect_max_ms = 500
            keepalive_s = 5
            \(extra)
            [enip]
            bind = "127.0.0.1:0"
            [[line]]
            name = "pumps"
            adapter = "\(bus.paths[0])"
            baud = 38400
            timeout_max_ms = 1000
            [[device]]
            tag = "Pump"
            line = "pumps"
            slave = 1
            period_s = \(period)
            [[device.member]]
            name = "Count"
            register = "40001"
            type = "UINT"
            [[device.member]]
            name = "Level"
            register = "40002"
            type = "INT"
            scale = 0.1
            deadband = 0.5
            [[device.member]]
            name = "Mode"
            register = "40003"
            read_only = true
            [[device.member]]
            name = "Offset"
            register = "40004"
            type = "INT"
            [[device.member]]
            name = "Total"
            register = "40005"
            type = "DINT"
            [[device.member]]
            name = "Run"
            register = "1"
            [[device]]
            tag = "Tank"
            line = "pumps"
            slave = 2
            period_s = \(period)
            [[device.member]]
            name = "Height"
            register = "40001"
            type = "UINT"
            """
        service = try await Self.start(settings)
    }

    private static func start(_ settings: String) async throws -> GatewayService {
        let configuration = try Configuration(toml: settings, file: "sparkplug-rig.toml")
        let logger = Logger(label: "test.sparkplug")
        return try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: logger) { service in
            [EdgeNode.part(configuration.mqtt!, gateway: service, logger: logger)]
        }
    }

    /// Stops the gateway and starts it again, as a restart does (the spool stays).
    func restart() async throws {
        await service.stop()
        service = try await Self.start(settings)
    }

    var status: GatewayStatus.MQTT? { service.status.mqtt }

    func stopTank() {
        tank?.stop()
        tank = nil
    }

    func startTank() {
        tank = SlaveThread(path: bus.paths[2], settings: serial, units: UnitMap(devices: [2: ModbusDevice(store: tankStore)]))
    }

    func stop() async {
        await service.stop()
        pump.stop()
        tank?.stop()
        try? FileManager.default.removeItem(atPath: spool)
    }

    /// A rig for `body`, stopped when it ends, however it ends.
    static func with(brokerPort: Int, mode: String = "sparkplug", period: Double = 0.1, extra: String = "", broker: String? = nil,
                     _ body: (SparkplugRig) async throws -> Void) async throws {
        let rig = try await SparkplugRig(brokerPort: brokerPort, mode: mode, period: period, extra: extra, broker: broker)
        do {
            try await body(rig)
        } catch {
            await rig.stop()
            throw error
        }
        await rig.stop()
    }
}

/// The Python Sparkplug host (pysparkplug) subscribed to a broker: each
/// message it decodes, as JSON.
final class SparkplugHost: @unchecked Sendable {
    struct Metric: Decodable {
        let name: String?
        let datatype: String
        let value: Double?
        let timestamp: UInt64?
        let historical: Bool

        enum CodingKeys: CodingKey { case name, datatype, value, timestamp, historical }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decodeIfPresent(String.self, forKey: .name)
            datatype = try container.decode(String.self, forKey: .datatype)
            timestamp = try container.decodeIfPresent(UInt64.self, forKey: .timestamp)
            historical = try container.decode(Bool.self, forKey: .historical)
            // Booleans come as true/false: numbers here, as the node reads them.
            if let flag = try? container.decodeIfPresent(Bool.self, forKey: .value) {
                value = flag ? 1 : 0
            } else {
                value = try container.decodeIfPresent(Double.self, forKey: .value)
            }
        }
    }

    struct Message: Decodable {
        let topic: String
        let kind: String
        let edge: String
        let device: String?
        let seq: Int?
        let timestamp: UInt64?
        let received: Double
        let metrics: [Metric]

        func value(_ name: String) -> Double? { metrics.first { $0.name == name }?.value }
    }

    let process: PeerProcess

    /// With `session`, a persistent session of that client id (see the script).
    init(port: Int, filter: String = "spBv1.0/#", session: String? = nil) throws {
        let script = Peers.packageRoot.appendingPathComponent("Tests/SparkplugTests/Peers/sparkplug_host.py").path
        process = try PeerProcess(Peers.sparkplugPython(), [script, "\(port)", filter] + (session.map { [$0] } ?? []))
        _ = try process.waitForLine(startingWith: "subscribed")
    }

    /// The next message (of `kind`, when given: others before it are passed over).
    func next(_ kind: String? = nil, device: String? = nil, timeout: TimeInterval = 20) async throws -> Message {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw Peers.Missing(description: "no \(kind ?? "message") within \(timeout) s") }
            let line = try await offPool { [process] in try process.waitForLine(startingWith: "message ", timeout: remaining) }
            // A message the host library could not decode is a failure, never passed over.
            if let bad = try? process.waitForLine(startingWith: "undecodable ", timeout: 0) {
                throw Peers.Missing(description: "pysparkplug could not decode: \(bad)")
            }
            let message = try JSONDecoder().decode(Message.self, from: Data(line.utf8))
            if kind.map({ $0 == message.kind }) ?? true, device.map({ $0 == message.device }) ?? true { return message }
        }
    }

    /// Every message until `done` says so (it is given each one), or the
    /// timeout (an error, unless `keepingWhatCame`: then what came by then).
    func collect(timeout: TimeInterval = 30, keepingWhatCame: Bool = false, until done: (Message) -> Bool) async throws -> [Message] {
        var messages: [Message] = []
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let message: Message
            do {
                message = try await next(timeout: max(0.1, deadline.timeIntervalSinceNow))
            } catch let missing as Peers.Missing where keepingWhatCame && missing.description.hasPrefix("no ") {
                return messages
            }
            messages.append(message)
            if done(message) { return messages }
        }
    }

    func send(_ command: String) { process.send(command) }

    func stop() {
        process.stop()
        if process.standardError.contains("Traceback") { print(process.standardError) }
    }
}
