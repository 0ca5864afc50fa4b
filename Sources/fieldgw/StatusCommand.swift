import ArgumentParser
import Foundation
import Gateway

#if canImport(Glibc)
import Glibc
#endif

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a running gateway's lines and slaves: transactions, timeouts, noise, breakers, poll load.",
        discussion: "It asks the gateway's web server ([web] in the configuration; 127.0.0.1:8502 by default)."
    )

    @Option(name: .long, help: "The gateway's status endpoint.")
    var url = "http://127.0.0.1:8502/status"

    @Flag(name: .long, help: "Print the gateway's JSON as it is.")
    var json = false

    @Option(name: .long, help: "The web server's token, when [web] sets one (default: $FIELDGW_WEB_TOKEN).")
    var token: String?

    func run() throws {
        try CommandFailure.reporting("status") { try show() }
    }

    private func show() throws {
        let body = try Self.request("GET", url, token: token ?? Self.environmentToken)
        if json {
            FileHandle.standardOutput.write(body)
            return
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let status: GatewayStatus
        do { status = try decoder.decode(GatewayStatus.self, from: body) } catch {
            throw CommandFailure("\(url) did not answer with a gateway's status: \(error)", status: CommandFailure.unavailable)
        }
        print(Self.text(status), terminator: "")
    }

    static func text(_ status: GatewayStatus) -> String {
        var out = ""
        for line in status.lines {
            out += "line \(line.name)  \(line.up ? "up" : "DOWN")  \(line.adapter)  queue \(line.queueDepth)"
            out += "  busy \(String(format: "%.0f", line.utilisation * 100))%\n"
            out += "  \(line.transactions) transactions, \(line.timeouts) timeouts, \(line.failedFast) failed fast, \(line.exceptions) exceptions,"
            out += " \(line.refusedBusy) refused busy, \(line.droppedGone) dropped (client gone)\n"
            out += "  \(line.noiseBytes) noise bytes, \(line.crcErrors) CRC errors, \(line.echoes) echoes, \(line.strays) stray replies\n"
            out += "  load 1/5/15 min \(format(line.load))\n"
            for slave in line.slaves { out += "  " + describe(slave) + "\n" }
        }
        if let mqtt = status.mqtt { out += describe(mqtt) }
        if let io = status.io { out += describe(io) }
        return out
    }

    private static func describe(_ io: GatewayStatus.IO) -> String {
        var out = "enip io  \(io.connections.count) connections, \(io.timeouts) timed out\n"
        for connection in io.connections {
            let assemblies = connection.output.map { "\($0)/\(connection.input)" } ?? "\(connection.input)"
            let mode = connection.running.map { $0 ? "run" : "IDLE" } ?? "-"
            out += "  \(connection.originator)  \(connection.kind) \(assemblies)  rpi \(format(connection.rpiOutMilliseconds))/"
            out += "\(format(connection.rpiInMilliseconds)) ms\(connection.changeOfState ? " on change" : "")"
            out += connection.multicast.map { "  multicast \($0)" } ?? ""
            out += "  \(mode)  \(connection.produced) produced, \(connection.consumed) consumed,"
            out += " \(connection.dropped) dropped\n"
        }
        return out
    }

    private static func format(_ milliseconds: Double) -> String { String(format: "%g", milliseconds) }

    private static func describe(_ mqtt: GatewayStatus.MQTT) -> String {
        var out = "mqtt (\(mqtt.mode))  \(mqtt.connected ? "connected" : "NOT CONNECTED")  \(mqtt.broker ?? "")"
        out += "  \(mqtt.connections) connections\n"
        out += "  \(mqtt.published) published, \(mqtt.queued) queued on disk, \(mqtt.dropped) dropped,"
        out += " \(mqtt.commands) commands, \(mqtt.refusedCommands) refused\n"
        if let error = mqtt.lastError { out += "  last error: \(error)\n" }
        return out
    }

    private static func describe(_ slave: GatewayStatus.Slave) -> String {
        var text = "slave \(slave.address): breaker \(slave.breaker), timeout \(String(format: "%.1f", slave.timeoutMilliseconds)) ms"
        // The slave's own answer time, smoothed: its frames' time on the wire is left out.
        if let latency = slave.latencyMilliseconds { text += ", answers in \(String(format: "%.1f", latency)) ms" }
        if slave.consecutiveTimeouts > 0 { text += ", \(slave.consecutiveTimeouts) timeouts in a row" }
        if let online = slave.online { text += ", polled: \(online ? "online" : "offline")" }
        if let load = slave.load { text += ", load \(format(load))" }
        if let slips = slave.slips, slips > 0 { text += ", \(slips) slips" }
        return text
    }

    private static func format(_ load: GatewayStatus.Load) -> String {
        [load.one, load.five, load.fifteen].map { String(format: "%.3f", $0) }.joined(separator: " ")
    }

    /// A plain HTTP/1.0 request of an `http://HOST:PORT/PATH` URL; the body
    /// of a 200 answer, or the failure with what the server said.
    static var environmentToken: String? { ProcessInfo.processInfo.environment["FIELDGW_WEB_TOKEN"] }

    static func request(_ method: String, _ text: String, token: String? = nil) throws -> Data {
        guard let url = URL(string: text), url.scheme == "http", let host = url.host else {
            throw CommandFailure("--url: \"\(text)\" is not an http://HOST:PORT/PATH URL", status: EX_USAGE)
        }
        let port = url.port ?? 80
        let descriptor = try connect(host: host, port: port, url: text)
        defer { close(descriptor) }
        // Ten seconds at most for an answer: a gateway that hangs must not hang its status command.
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let request = "\(method) \(url.path.isEmpty ? "/" : url.path)\(url.query.map { "?" + $0 } ?? "") HTTP/1.0\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
            + (token.map { "Authorization: Bearer \($0)\r\n" } ?? "")
            + (method == "POST" ? "Content-Type: application/json\r\nContent-Length: 0\r\n" : "") + "\r\n"
        _ = request.utf8CString.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count - 1) }
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            guard count > 0 else { break }
            response.append(contentsOf: chunk[0..<count])
        }
        guard let split = response.range(of: Data("\r\n\r\n".utf8)),
              let statusLine = String(data: response[..<split.lowerBound], encoding: .utf8)?.split(separator: "\r\n").first,
              statusLine.contains(" 200 ") else {
            let answer = response.range(of: Data("\r\n\r\n".utf8)).map { response[$0.upperBound...] } ?? response
            throw CommandFailure("\(text) answered: \(Self.message(in: Data(answer)))", status: CommandFailure.unavailable)
        }
        return response[split.upperBound...]
    }

    /// What an error answer says: Hummingbird's {"error":{"message":...}}, or the text.
    private static func message(in body: Data) -> String {
        struct Answer: Decodable {
            struct Error: Decodable { var message: String }
            var error: Error
        }
        if let answer = try? JSONDecoder().decode(Answer.self, from: body) { return answer.error.message }
        return String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func connect(host: String, port: Int, url: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, "\(port)", &hints, &found) == 0, let first = found else {
            throw CommandFailure("\(url): cannot resolve \(host)", status: CommandFailure.unavailable)
        }
        defer { freeaddrinfo(found) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), first.pointee.ai_protocol)
        guard descriptor >= 0, Glibc.connect(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let reason = String(cString: strerror(errno))
            if descriptor >= 0 { close(descriptor) }
            throw CommandFailure("\(url): \(reason) (is the gateway running, with its [web] server there?)", status: CommandFailure.unavailable)
        }
        return descriptor
    }
}

struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Make a running gateway read its configuration file again and apply what changed.",
        discussion: """
            It asks the gateway's web server (POST /api/reload) and prints what was kept, \
            restarted, stopped and started. A bad file changes nothing: the answer says \
            which key and why. `kill -HUP PID` does the same, with the outcome in the log.
            """
    )

    @Option(name: .long, help: "The gateway's reload endpoint.")
    var url = "http://127.0.0.1:8502/api/reload"

    @Option(name: .long, help: "The web server's token, when [web] sets one (default: $FIELDGW_WEB_TOKEN).")
    var token: String?

    func run() throws {
        try CommandFailure.reporting("reload") {
            let body = try StatusCommand.request("POST", url, token: token ?? StatusCommand.environmentToken)
            let report = try JSONDecoder().decode(ReloadReport.self, from: body)
            print(report.description.isEmpty ? "nothing changed" : report.description.replacingOccurrences(of: "; ", with: "\n"))
            if !report.failed.isEmpty { throw CommandFailure("some parts did not start", status: CommandFailure.unavailable) }
        }
    }
}
