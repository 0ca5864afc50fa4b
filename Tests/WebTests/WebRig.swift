import Foundation
import Gateway
import Logging
import Modbus
import NIOPosix
import Serial
import TestSupport
import Web

/// A gateway on a pty bus with one RTU slave (unit 1: holding registers
/// 40001-40003), the device `Pump` on it, and the web server on a free port.
final class WebRig: @unchecked Sendable {
    let bus: VirtualBus
    let slave: SlaveThread
    let store: DataStore
    let service: GatewayService
    let web: WebServer
    let base: String

    /// `timeoutMilliseconds`: the line's longest wait for a slave. A test whose
    /// write must get through sets it generously: on a loaded machine (a fresh
    /// clone's CI) the slave's thread can be held past 200 ms twice, the
    /// breaker opens, and the write is failed fast (502).
    init(web settings: String = "", extraSlaves: [UInt8] = [], timeoutMilliseconds: Int = 200) async throws {
        let serial = SerialSettings(baud: 38400)
        bus = try VirtualBus(ends: 2, settings: serial)
        store = DataStore()
        store.define(.holdingRegisters, at: 0, values: [7, 250, 3])
        slave = SlaveThread(path: bus.paths[1], settings: serial, units: UnitMap(devices: [1: ModbusDevice(store: store)]))
        let configuration = try Configuration(toml: """
            [web]
            bind = "127.0.0.1:0"
            \(settings)
            [enip]
            bind = "127.0.0.1:0"
            [[listener]]
            bind = "127.0.0.1:0"
            [[line]]
            name = "pumps"
            adapter = "\(bus.paths[0])"
            baud = 38400
            timeout_max_ms = \(timeoutMilliseconds)
            failures_to_open = 2
            backoff_s = 0.5
            [[route]]
            units = "1-5"
            line = "pumps"
            [[device]]
            tag = "Pump"
            line = "pumps"
            slave = 1
            period_s = 0.2
            [[device.member]]
            name = "Count"
            register = "40001"
            type = "UINT"
            [[device.member]]
            name = "Level"
            register = "40002"
            type = "INT"
            scale = 0.1
            [[device.member]]
            name = "Mode"
            register = "40003"
            read_only = true
            """ + extraSlaves.map { "\n[[poll]]\nline = \"pumps\"\nslave = \($0)\naddresses = [\"40001\"]\nperiod_s = 0.2\n" }.joined(),
            file: "web-rig.toml")
        let made = Latch<WebServer>()
        service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test.web")) { service in
            let web = WebServer(settings: configuration.web!, gateway: service, metrics: nil, logger: Logger(label: "test.web"))
            made.set(web)
            return [web.part()]
        }
        web = await made.wait()
        let bound = await web.bound.wait()
        base = "http://127.0.0.1:\(bound.port)"
    }

    /// A rig for `body`, stopped when it ends, however it ends.
    static func with(web: String = "", extraSlaves: [UInt8] = [], timeoutMilliseconds: Int = 200,
                     _ body: (WebRig) async throws -> Void) async throws {
        let rig = try await WebRig(web: web, extraSlaves: extraSlaves, timeoutMilliseconds: timeoutMilliseconds)
        do {
            try await body(rig)
        } catch {
            await rig.stop()
            throw error
        }
        await rig.stop()
    }

    func stop() async {
        await service.stop()
        slave.stop()
    }

    struct Reply {
        let status: Int
        let body: Data
        let headers: [String: String]
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> Any { try JSONSerialization.jsonObject(with: body) }
    }

    func get(_ path: String, headers: [String: String] = [:]) async throws -> Reply {
        try await send("GET", path, headers: headers)
    }

    /// One request with curl (URLSession on Linux hangs on a 401 that asks for credentials). A
    /// minute at most: the other tests in this process can hold, for seconds, the few threads
    /// the server's handlers run on (a real gateway has no such neighbours).
    func send(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var arguments = ["-s", "-i", "--max-time", "60", "-X", method]
        var headers = headers
        if method == "POST" && !headers.keys.contains("Content-Type") { headers["Content-Type"] = "application/json" }
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        if let body { arguments += ["--data-binary", body] }
        let url = base + path
        let command = arguments + [url]
        let output = try await offPool { try Peers.run(Peers.program("curl"), command) }
        guard let split = output.stdout.range(of: Data("\r\n\r\n".utf8)) else { throw Peers.Missing(description: "curl: \(output.stderr)") }
        let head = String(decoding: output.stdout[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var fields: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Reply(status: status, body: Data(output.stdout[split.upperBound...]), headers: fields)
    }
}
