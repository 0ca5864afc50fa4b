import Foundation
import TestSupport
import Testing

/// `fieldgw enip-server` and `fieldgw enip-client` as a user runs them, with
/// program-scope tags and an @class/instance/attribute tag, and the peers
/// that use them (pycomm3, pylogix, cpppo's get_attribute).
@Suite struct ENIPCommandTests {
    private func server(_ arguments: [String]) throws -> (PeerProcess, String) {
        let server = try PeerProcess(try Peers.fieldgw(), ["enip-server", "-a", "127.0.0.1:0"] + arguments)
        let line = try server.waitForLine(startingWith: "enip-server: EtherNet/IP on ")
        return (server, String(line.split(separator: ":").last!))
    }

    @Test func theCommandsServeAndUseProgramAndAttributeTags() throws {
        let (server, port) = try server(["--print", "SCADA=INT[100]", "Program:Main.Count=DINT", "Speed@0x93/3/10=REAL"])
        defer { server.stop() }
        let client = try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "SCADA[1-2]=(INT)5,6", "SCADA[0-3]",
                                                         "Program:Main.Count=(DINT)-9", "Program:Main.Count", "Speed=2.5", "@0x93/3/10", "--depth", "4"])
        #expect(client.status == 0, "\(client.stderr)")
        let lines = client.text.split(separator: "\n")
        #expect(Array(lines.prefix(6)) == ["SCADA[1-2]=(INT)5,6: OK", "SCADA[0-3] == [0, 5, 6, 0]", "Program:Main.Count=(DINT)-9: OK",
                                           "Program:Main.Count == [-9]", "Speed=2.5: OK", "@0x93/3/10 == 00 00 20 40"])
        #expect(lines.last?.hasPrefix("enip-client: 6 operations (0 failed) in ") == true, "the summary line: \(client.text)")
        #expect(throws: Never.self, "--print shows writes") { try server.waitForLine(startingWith: "enip-server: SCADA[1] x2 <= [5, 6]") }

        let pycomm3 = """
            import sys
            from pycomm3 import LogixDriver
            with LogixDriver(f"127.0.0.1:{sys.argv[1]}") as plc:
                print(sorted(plc.tags), sorted(plc.info["programs"]))
                print(plc.write("Program:Main.Count", 42).error, plc.read("Program:Main.Count").value)
            """
        let seen = try Peers.run(Peers.python(), ["-c", pycomm3, port])
        #expect(seen.text == "['Program:Main.Count', 'SCADA', 'Speed'] ['Main']\nNone 42\n", "\(seen.text) \(seen.stderr)")
        let pylogix = """
            import sys
            from pylogix import PLC
            with PLC("127.0.0.1") as plc:
                plc.Port = int(sys.argv[1])
                print(sorted(tag.TagName for tag in plc.GetTagList(True).Value))
            """
        let listed = try Peers.run(Peers.python(), ["-c", pylogix, port])
        #expect(listed.text == "['Program:Main', 'Program:Main.Count', 'SCADA', 'Speed']\n", "\(listed.text) \(listed.stderr)")
        let cpppo = try Peers.run(Peers.cpppoPython(), ["-m", "cpppo.server.enip.get_attribute", "-a", "127.0.0.1:\(port)",
                                                        "@0x93/3/10=(REAL)7.5", "@0x93/3/10"])
        #expect(cpppo.status == 0 && cpppo.text.contains("@0x0093/3/10 == [0, 0, 240, 64]"), "\(cpppo.text) \(cpppo.stderr)")
    }

    @Test func aDelayHoldsRepliesBackAndMistakesAreNamed() throws {
        let (server, port) = try server(["--delay", "0.2-0.3", "SCADA=INT[10]"])
        defer { server.stop() }
        let started = Date()
        let client = try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "SCADA[0]", "--quiet"])
        #expect(client.status == 0 && Date().timeIntervalSince(started) >= 0.4, "RegisterSession and the read, each 0.2 s or more late")
        let bad = try Peers.run(try Peers.fieldgw(), ["enip-server", "Temp=FLOAT"])
        #expect(bad.status != 0 && bad.stderr.contains("\"Temp=FLOAT\": unknown type FLOAT"), "\(bad.stderr)")
        let wrong = try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "SCADA[1-3]=1,2"])
        #expect(wrong.status != 0 && wrong.stderr.contains("\"SCADA[1-3]=1,2\": 2 values for 3 elements"), "\(wrong.stderr)")
        let timeout = try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "--timeout", "0.1", "SCADA[0]"])
        #expect(timeout.status != 0 && timeout.stderr.contains("no reply within 100 ms"), "\(timeout.stderr)")
    }
}

/// libplctag's ab_server refuses a RegisterSession whose sender context is
/// not zero; controllers' own tools and pylogix send zeros, and so do we.
@Suite struct RegisterSessionContextTests {
    @Test func theClientRegistersWithAZeroSenderContext() throws {
        let listener = try PeerProcess(try Peers.python(), ["-c", """
            import socket, struct
            server = socket.socket()
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            print("port", server.getsockname()[1], flush=True)
            client, _ = server.accept()
            request = b""
            while len(request) < 28:
                request += client.recv(28 - len(request))
            print("context", request[12:20].hex(), flush=True)
            client.sendall(struct.pack("<HHII8sI", 0x65, 4, 0, 1, request[12:20], 0) + request[24:28])
            client.close()
            """])
        defer { listener.stop() }
        let port = try listener.waitForLine(startingWith: "port ")
        let client = try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "SCADA[0]"])
        #expect(client.status != 0 && client.stderr.contains("RegisterSession refused: status 0x1"), "\(client.stderr)")
        #expect(try listener.waitForLine(startingWith: "context ") == "0000000000000000")
    }
}
