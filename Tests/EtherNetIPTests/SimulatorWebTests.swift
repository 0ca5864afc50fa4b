import Foundation
import TestSupport
import Testing

/// `fieldgw enip-server --web`: the curl lines of cpppo's README (§2.1.5)
/// against our server and against cpppo's own, the same JSON fields in both.
@Suite(.ownThreads) struct SimulatorWebTests {
    struct Server {
        let process: PeerProcess
        let enip: Int
        let web: Int
    }

    private func ours(_ arguments: [String]) throws -> Server {
        let process = try PeerProcess(try Peers.fieldgw(), ["enip-server", "-a", "127.0.0.1:0", "--web", "127.0.0.1:0"] + arguments)
        let enip = Int(try process.waitForLine(startingWith: "enip-server: EtherNet/IP on ").split(separator: ":").last!)!
        let web = try process.waitForLine(startingWith: "enip-server: web API on http://127.0.0.1:")
        return Server(process: process, enip: enip, web: Int(web.prefix { $0.isNumber })!)
    }

    private func cpppo(_ arguments: [String]) throws -> Server {
        let enip = try Peers.ReservedPort(), web = try Peers.ReservedPort()
        let (enipPort, webPort) = (enip.port, web.port)
        enip.release()
        web.release()
        let process = try PeerProcess(try Peers.cpppoPython(), ["-m", "cpppo.server.enip", "-a", "127.0.0.1:\(enipPort)",
                                                                "--web", "127.0.0.1:\(webPort)"] + arguments)
        let deadline = Date().addingTimeInterval(30)
        while (try? curl(webPort, "api")) == nil {
            guard Date() < deadline, process.isRunning else { throw Peers.Missing(description: "cpppo's web API did not start: \(process.standardError)") }
            usleep(100_000)
        }
        return Server(process: process, enip: enipPort, web: webPort)
    }

    /// A curl line of cpppo's README (-g: brackets are not curl's globs), as JSON.
    private func curl(_ port: Int, _ path: String, headers: [String] = []) throws -> [String: Any] {
        let output = try Peers.run(try Peers.program("curl"), ["-gsf", "--max-time", "10"] + headers.flatMap { ["-H", $0] } + ["http://127.0.0.1:\(port)/\(path)"])
        guard output.status == 0, let json = try? JSONSerialization.jsonObject(with: output.stdout) as? [String: Any] else {
            throw Peers.Missing(description: "curl \(path): status \(output.status) \(output.text)")
        }
        return json
    }

    /// Every key path of a JSON object ("data.tags.SCADA.error"), connection names as "*".
    private func paths(_ value: Any, _ prefix: String = "") -> Set<String> {
        guard let object = value as? [String: Any] else { return [prefix] }
        var found: Set<String> = []
        for (key, child) in object {
            let name = prefix.hasSuffix("connections") ? "*" : key
            found.formUnion(paths(child, prefix.isEmpty ? name : prefix + "." + name))
        }
        return found.isEmpty ? [prefix] : found
    }

    private func field(_ json: [String: Any], _ path: String) -> Any? {
        path.split(separator: ".").reduce(json as Any?) { ($0 as? [String: Any])?[String($1)] }
    }

    @Test func cpppoCurlLinesGetCpppoFields() throws {
        let arguments = ["--delay", "0.1-0.2", "SCADA=INT[1000]"]
        let (mine, theirs) = (try ours(arguments), try cpppo(arguments))
        defer { mine.process.stop(); theirs.process.stop() }
        for path in ["api", "api/tags/SCADA/error=8", "api/tags/SCADA/error/0", "api/tags/SCADA/attribute[3]=4",
                     "api/tags/SCADA/attribute[3]", "api/server/control/latency", "api/options/delay/range=0.5-1.5"] {
            let (a, b) = (try curl(mine.web, path), try curl(theirs.web, path))
            #expect(paths(a) == paths(b), "\(path): ours \(paths(a).symmetricDifference(paths(b)))")
            #expect(field(a, "command.message") as? String == field(b, "command.message") as? String, "\(path)")
        }
        let delay = try curl(mine.web, "api/options/delay/value/0.5")
        #expect(field(delay, "command.message") as? String == "options.delay.value='0.5' (0.5)")
        #expect(field(delay, "data.options.delay.value") as? Double == 0.5)
        #expect(field(try curl(mine.web, "api/options/delay/value=0"), "data.options.delay.value") as? Double == 0)
        let all = try curl(mine.web, "api")
        #expect((field(all, "data.tags.SCADA.attribute") as? String)?.hasPrefix("SCADA                           INT[1000] == [0, 0, 0, 4, 0, 0, ...]") == true)
        #expect(field(all, "until") is Double && field(all, "since") is NSNull && (field(all, "alarm") as? [Any])?.isEmpty == true)
    }

    @Test func errorsAttributesConnectionsAndTheServerSwitch() throws {
        let server = try ours(["SCADA=INT[100]", "Big=LINT", "Huge=ULINT"])
        defer { server.process.stop() }
        let client = { (operation: String) throws -> Peers.Output in
            try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(server.enip)", operation])
        }
        _ = try curl(server.web, "api/tags/SCADA/error=8")
        #expect(try client("SCADA[0]").text.contains("0x08"), "every access fails with status 8")
        _ = try curl(server.web, "api/tags/SCADA/error/0")
        _ = try curl(server.web, "api/tags/SCADA/attribute[3]=4")
        #expect(try client("SCADA[3]").text.hasPrefix("SCADA[3] == [4]"))

        // A client that holds its connection: listed, then closed by eof.
        let holder = try PeerProcess(try Peers.python(), ["-c", """
            import socket, struct, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(struct.pack("<HHII8sIHH", 0x65, 4, 0, 0, b"\\0" * 8, 0, 1, 0))
            s.recv(100)
            print("registered", s.getsockname()[1], flush=True)
            print("closed" if s.recv(100) == b"" else "data", flush=True)
            """, "\(server.enip)"])
        defer { holder.stop() }
        let port = try holder.waitForLine(startingWith: "registered ")
        let listed = try curl(server.web, "api/connections")
        let key = "127_0_0_1_\(port)"
        #expect(field(listed, "data.connections.\(key).port") as? Int == Int(port))
        #expect(field(listed, "data.connections.\(key).received") as? Int == 28 && field(listed, "data.connections.\(key).requests") as? Int == 1,
                "\(listed)")
        #expect(field(listed, "data.connections.\(key).eof") as? Bool == false && field(listed, "data.connections.\(key).interface") as? String == "127.0.0.1")
        #expect(field(try curl(server.web, "api/connections/*/eof/true"), "command.success") as? Bool == true)
        #expect(throws: Never.self) { try holder.waitForLine(startingWith: "closed") }

        _ = try curl(server.web, "api/server/control/disable/true")
        #expect(try client("SCADA[0]").status != 0, "disabled: the port refuses")
        #expect(field(try curl(server.web, "api/server"), "data.server.control.disable") as? Bool == true)
        _ = try curl(server.web, "api/server/control/disable/false")
        #expect(try client("SCADA[3]").text.hasPrefix("SCADA[3] == [4]"))

        let page = try Peers.run(try Peers.program("curl"), ["-si", "-H", "Accept: text/html", "http://127.0.0.1:\(server.web)/api/tags"])
        #expect(page.text.contains("Content-Type: text/html") && page.text.contains("<title>api/tags/*/</title>") && page.text.contains("&quot;") == false)
        let json = try Peers.run(try Peers.program("curl"), ["-si", "http://127.0.0.1:\(server.web)/api/tags"])
        #expect(json.text.contains("Access-Control-Allow-Origin: *") && json.text.contains("Content-Type: application/json"))
        // A LINT or ULINT past what a Double holds exactly: shown as a number, the server unharmed.
        #expect(field(try curl(server.web, "api/tags/Big/attribute[0]=9223372036854775807"), "command.success") as? Bool == true)
        #expect(field(try curl(server.web, "api/tags/Big/attribute[0]"), "command.message") as? String == "tags.Big.attribute[0]: 9.223372036854776e+18")
        #expect(field(try curl(server.web, "api"), "data.tags.Big.error") as? Int == 0)
        let crafted = try Peers.run(try Peers.program("curl"), ["-s", "-H", "Accept: text/html", "http://127.0.0.1:\(server.web)/api/%3Cscript%3E"])
        #expect(crafted.text.contains("&lt;script&gt;") && !crafted.text.contains("<script>"), "URL parts are escaped in the page")
        let late = try curl(server.web, "api/options/delay/value=1e10")
        #expect(field(late, "command.success") as? Bool == false, "a delay past a day is refused, not crashed on")
        let failed = try curl(server.web, "api/tags/SCADA/nothing=1")
        #expect(field(failed, "command.success") as? Bool == false)

        _ = try curl(server.web, "api/server/control/done/true")
        let deadline = Date().addingTimeInterval(10)
        while server.process.isRunning && Date() < deadline { usleep(50_000) }
        #expect(!server.process.isRunning && server.process.exitStatus == 0, "done/true stops the server, exit 0")
    }
}
