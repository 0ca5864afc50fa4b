import Foundation
import Gateway
import Hummingbird
import Modbus

/// The JSON API and the dashboard's pages.
extension WebServer {
    struct DeviceValue: Codable, Sendable {
        var name: String
        var address: String
        var type: String
        var writable: Bool
        /// nil until the member was polled once.
        var value: Double?
        var ageSeconds: Double?
        /// Younger than the device's max_age, with its slave online.
        var fresh: Bool
    }

    struct Device: Codable, Sendable {
        var name: String
        var line: String
        var slave: Int
        var maxAgeSeconds: Double
        var online: Bool
        var members: [DeviceValue]
    }

    struct Live: Codable, Sendable {
        var status: GatewayStatus
        var devices: [Device]
        var eventsTotal: Int
        var historyCount: Int
    }

    func addGatewayRoutes(_ router: Hummingbird.Router<BasicRequestContext>) {
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                     body: .init(byteBuffer: ByteBuffer(string: Dashboard.html)))
        }
        router.get("/status") { _, _ in try json(gateway!.status) }
        router.get("/api/status") { _, _ in try json(gateway!.status) }
        router.get("/api/lines") { _, _ in try json(gateway!.status.lines) }
        router.get("/api/lines/:name") { _, context in
            let name = try context.parameters.require("name")
            guard let line = gateway!.status.lines.first(where: { $0.name == name }) else { throw HTTPError(.notFound, message: "no line \(name)") }
            return try json(line)
        }
        router.get("/api/history") { _, _ in try json(history.lines) }
        router.get("/api/devices") { _, _ in try json(devices()) }
        router.get("/api/devices/:name") { _, context in
            let name = try context.parameters.require("name")
            guard let device = devices().first(where: { $0.name == name }) else { throw HTTPError(.notFound, message: "no device \(name)") }
            return try json(device)
        }
        router.get("/api/events") { _, _ in try json(gateway!.events.recent) }
        router.get("/api/stream") { _, _ in stream() }
        router.post("/api/devices/:name/:member") { request, context in
            try await write(request, device: try context.parameters.require("name"), member: try context.parameters.require("member"))
        }
        router.post("/api/reload") { _, _ in try await reloadNow() }
    }

    func devices() -> [Device] {
        guard let gateway else { return [] }
        return gateway.configuration.devices.map { device in
            let poller = gateway.poller(line: device.line, slave: device.slave)
            let online = poller?.online ?? false
            let maxAge = device.maxAge.seconds
            let members = device.members.map { member in
                let sample = poller?.sample(member.addresses)
                let age = sample.map { $0.age.seconds }
                return DeviceValue(name: member.name, address: member.address.short, type: member.encoding.rawValue, writable: member.writable,
                                   value: sample.map { member.number(from: $0.values[...]) }, ageSeconds: age,
                                   fresh: online && (age.map { $0 <= maxAge } ?? false))
            }
            return Device(name: device.tag, line: device.line, slave: Int(device.slave), maxAgeSeconds: maxAge, online: online, members: members)
        }
    }

    /// One message a second: the status, every device's values, and how
    /// many events and history samples exist (the page asks for those when
    /// they grow). It ends when the client goes or the server closes.
    private func stream() -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: .init { writer in
            while closing.value == nil {
                let live = Live(status: gateway!.status, devices: devices(), eventsTotal: gateway!.events.total, historyCount: history.count)
                var message = ByteBuffer(string: "data: ")
                message.writeBytes(try Self.encoder.encode(live))
                message.writeString("\n\n")
                try await writer.write(message)
                await closing.wait(for: .seconds(1))
            }
            try await writer.finish(nil)
        })
    }

    private func write(_ request: Request, device name: String, member memberName: String) async throws -> Response {
        guard settings.writes else { throw HTTPError(.forbidden, message: "writes through the web are off ([web] writes = false)") }
        guard let gateway, let device = gateway.configuration.devices.first(where: { $0.tag == name }) else {
            throw HTTPError(.notFound, message: "no device \(name)")
        }
        guard let member = device.members.first(where: { $0.name == memberName }) else {
            throw HTTPError(.notFound, message: "device \(name) has no member \(memberName)")
        }
        guard member.writable else { throw HTTPError(.forbidden, message: "\(name).\(memberName) is read-only") }
        let number = try await Self.number(in: request)
        let registers: [UInt16]
        do {
            registers = try member.registers(for: number)
        } catch {
            throw HTTPError(.badRequest, message: "\(number) does not fit \(name).\(memberName) (\(member.encoding.rawValue))")
        }
        guard let poller = gateway.poller(line: device.line, slave: device.slave) else { throw HTTPError(.serviceUnavailable) }
        do {
            try await poller.write(member.address, values: registers)
        } catch {
            throw HTTPError(.badGateway, message: "the slave refused or did not answer: \(error)")
        }
        return try json(["device": name, "member": memberName, "written": "\(number)"])
    }

    /// The value a POST carries, as JSON: `{"value": 12.5}` or the bare number.
    static func number(in request: Request) async throws -> Double {
        let body = try await request.body.collect(upTo: 4096)
        let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
        struct Body: Decodable { var value: Double }
        if let decoded = try? JSONDecoder().decode(Body.self, from: Data(text.utf8)) { return decoded.value }
        guard let number = try? JSONDecoder().decode(Double.self, from: Data(text.utf8)) else {
            throw HTTPError(.badRequest, message: "send a JSON number, or {\"value\": NUMBER}")
        }
        return number
    }

    private func reloadNow() async throws -> Response {
        guard let reload else { throw HTTPError(.notFound, message: "this server has no configuration file to reload") }
        switch await reload() {
        case .success(let report): return try json(report)
        case .failure(let error): throw HTTPError(.unprocessableContent, message: "nothing changed: \(error)")
        }
    }

    func json(_ value: some Encodable) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try Self.encoder.encode(value))))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()
}
