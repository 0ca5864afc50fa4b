import Foundation
import TestSupport
import Testing

/// `fieldgw modbus-sim --web`: registers, errors, faults, the delay, the
/// clients and the server switched at run time, as a test script would.
@Suite(.ownThreads) struct ModbusSimWebTests {
    private func curl(_ port: Int, _ path: String) throws -> [String: Any] {
        let output = try Peers.run(try Peers.program("curl"), ["-gsf", "--max-time", "10", "http://127.0.0.1:\(port)/\(path)"])
        guard output.status == 0, let json = try? JSONSerialization.jsonObject(with: output.stdout) as? [String: Any] else {
            throw Peers.Missing(description: "curl \(path): status \(output.status) \(output.text)")
        }
        return json
    }

    private func field(_ json: [String: Any], _ path: String) -> Any? {
        path.split(separator: ".").reduce(json as Any?) { ($0 as? [String: Any])?[String($1)] }
    }

    @Test func registersFaultsDelayClientsAndTheServerAtRunTime() throws {
        let sim = try PeerProcess(try Peers.fieldgw(), ["modbus-sim", "-a", "127.0.0.1:0", "--web", "127.0.0.1:0", "40001-40005=7", "1-4=1"])
        defer { sim.stop() }
        let modbus = Int(try sim.waitForLine(startingWith: "modbus-sim: Modbus/TCP on 127.0.0.1:"))!
        let web = Int(try sim.waitForLine(startingWith: "modbus-sim: web API on http://127.0.0.1:").prefix { $0.isNumber })!
        let read = { (registers: String) throws -> Peers.Output in
            try Peers.run(try Peers.fieldgw(), ["modbus-client", "-a", "127.0.0.1:\(modbus)", "--timeout", "1", registers])
        }
        let all = try curl(web, "api")
        #expect(field(all, "data.registers.40001.value") as? Int == 7 && field(all, "data.registers.1.value") as? Int == 1)
        #expect(field(all, "data.evil.truncate.active") as? Bool == false && field(all, "data.server.control.disable") as? Bool == false)

        let set = try curl(web, "api/registers/40001/value=5")
        #expect(field(set, "command.message") as? String == "registers.40001.value='5' (5)")
        #expect(try read("40001-40002").text == "400001 = 5\n400002 = 7\n")
        #expect(field(try curl(web, "api/registers/40001/value=70000"), "command.success") as? Bool == false)

        _ = try curl(web, "api/registers/40002/error=4")
        #expect(try read("40001-40002").text.contains("exception server device failure (4)"))
        _ = try curl(web, "api/registers/40002/error/0")
        #expect(try read("40002").text == "400002 = 7\n")

        _ = try curl(web, "api/evil/truncate/active=true")
        #expect(try read("40001").status != 0, "a truncated reply is no reply")
        #expect(field(try curl(web, "api/evil/*/active=false"), "data.evil.truncate.active") as? Bool == false)
        #expect(try read("40001").text == "400001 = 5\n")

        #expect(field(try curl(web, "api/evil/delay/range=0-1e10"), "command.success") as? Bool == false, "past a day: refused")
        #expect(field(try curl(web, "api/options/delay/value=inf"), "command.success") as? Bool == false)
        _ = try curl(web, "api/options/delay/value=0.4")
        var started = Date()
        #expect(try read("40001").status == 0 && Date().timeIntervalSince(started) >= 0.4)
        #expect(field(try curl(web, "api/evil/delay"), "data.evil.delay.range") as? String == "0.4", "the delay is the evil delay fault")
        _ = try curl(web, "api/options/delay/value=0")
        started = Date()
        #expect(try read("40001").status == 0 && Date().timeIntervalSince(started) < 0.4)

        let holder = try PeerProcess(try Peers.python(), ["-c", """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(bytes([0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1]))
            s.recv(100)
            print("connected", s.getsockname()[1], flush=True)
            print("closed" if s.recv(100) == b"" else "data", flush=True)
            """, "\(modbus)"])
        defer { holder.stop() }
        let port = try holder.waitForLine(startingWith: "connected ")
        let key = "127_0_0_1_\(port)"
        let listed = try curl(web, "api/connections")
        #expect(field(listed, "data.connections.\(key).requests") as? Int == 1 && field(listed, "data.connections.\(key).received") as? Int == 12,
                "\(listed)")
        _ = try curl(web, "api/connections/\(key)/eof/true")
        #expect(throws: Never.self) { try holder.waitForLine(startingWith: "closed") }

        _ = try curl(web, "api/server/control/disable/true")
        #expect(try read("40001").status != 0)
        _ = try curl(web, "api/server/control/disable/false")
        #expect(try read("40001").text == "400001 = 5\n", "listening again on the same port")

        _ = try curl(web, "api/server/control/done/true")
        let deadline = Date().addingTimeInterval(10)
        while sim.isRunning && Date() < deadline { usleep(50_000) }
        #expect(!sim.isRunning && sim.exitStatus == 0)
    }
}
