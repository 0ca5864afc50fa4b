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
        discussion: "It asks the gateway's status endpoint ([status] in the configuration; 127.0.0.1:8502 by default)."
    )

    @Option(name: .long, help: "The gateway's status endpoint.")
    var url = "http://127.0.0.1:8502/status"

    @Flag(name: .long, help: "Print the gateway's JSON as it is.")
    var json = false

    func run() throws {
        let body = try Self.get(url)
        if json {
            FileHandle.standardOutput.write(body)
            return
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let status: GatewayStatus
        do { status = try decoder.decode(GatewayStatus.self, from: body) } catch {
            throw ValidationError("\(url) did not answer with a gateway's status: \(error)")
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
            out += "  \(line.noiseBytes) noise bytes, \(line.crcErrors) CRC errors, \(line.echoes) echoes\n"
            out += "  load 1/5/15 min \(format(line.load))\n"
            for slave in line.slaves { out += "  " + describe(slave) + "\n" }
        }
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

    /// A plain HTTP/1.0 GET of an `http://HOST:PORT/PATH` URL; the body.
    static func get(_ text: String) throws -> Data {
        guard let url = URL(string: text), url.scheme == "http", let host = url.host else {
            throw ValidationError("--url: \"\(text)\" is not an http://HOST:PORT/PATH URL")
        }
        let port = url.port ?? 80
        let descriptor = try connect(host: host, port: port, url: text)
        defer { close(descriptor) }
        let request = "GET \(url.path.isEmpty ? "/" : url.path) HTTP/1.0\r\nHost: \(host)\r\n\r\n"
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
            throw ValidationError("\(text) answered: \(String(decoding: response.prefix(200), as: UTF8.self))")
        }
        return response[split.upperBound...]
    }

    private static func connect(host: String, port: Int, url: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, "\(port)", &hints, &found) == 0, let first = found else {
            throw ValidationError("\(url): cannot resolve \(host)")
        }
        defer { freeaddrinfo(found) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard descriptor >= 0, Glibc.connect(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let reason = String(cString: strerror(errno))
            if descriptor >= 0 { close(descriptor) }
            throw ValidationError("\(url): \(reason) (is the gateway running, with its [status] endpoint there?)")
        }
        return descriptor
    }
}
