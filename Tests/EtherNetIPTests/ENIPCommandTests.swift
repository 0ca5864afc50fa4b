import Foundation
import TestSupport
import Testing

/// `fieldgw enip-server` and `fieldgw enip-client` as a user runs them, with
/// program-scope tags and an @class/instance/attribute tag, and the peers
/// that use them (pycomm3, pylogix, cpppo's get_attribute).
@Suite(.ownThreads) struct ENIPCommandTests {
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
                                           "Program:Main.Count == [-9]", "Speed=2.5: OK", "@0x93/3/10 == [2.5]"],
                "a numeric address read with Read Tag, as cpppo's client does")
        #expect(lines.last?.hasPrefix("enip-client: 6 operations (0 failed) in ") == true, "the summary line: \(client.text)")
        #expect(throws: Never.self, "--print shows writes as cpppo does") { try server.waitForLine(startingWith: "               SCADA[    1-2    ] <= [5, 6] ") }

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

/// Scripts written for cpppo's tools read our output and exit statuses.
@Suite(.ownThreads) struct CpppoDropInTests {
    private func server(_ arguments: [String]) throws -> (PeerProcess, String) {
        let server = try PeerProcess(try Peers.fieldgw(), ["enip-server", "-a", "127.0.0.1:0", "-A"] + arguments)
        let line = try server.waitForLine(startingWith: "Network TCP Server address = ('127.0.0.1', ")
        return (server, String(line.dropLast()))
    }

    @Test func theClientPrintsAndExitsAsCpppos() throws {
        let (server, port) = try server(["--print", "-v", "SCADA=INT[10]", "Tag=DINT[4]", "Bare"])
        defer { server.stop() }
        let client = { (arguments: [String]) in try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)"] + arguments) }
        let printed = try client(["-p", "SCADA[1]=99", "SCADA[0-3]", "@2/1/1[2]=(INT)5", "@2/1/1[0-2]", "Bare=7", "@2/1/3"])
        #expect(printed.status == 0 && printed.text == """
                        SCADA[1][  1-1  ]+  0 <= [99]: 'OK'
                        SCADA[0][  0-3  ]+  0 == [0, 99, 0, 0]: 'OK'
                  @0x0002/1/1[2][  2-2  ]+  0 <= [5]: 'OK'
                  @0x0002/1/1[0][  0-2  ]+  0 == [0, 99, 5]: 'OK'
                            Bare              <= [7]: 'OK'
                     @0x0002/1/3              == [7]: 'OK'

            """, "tags at @2/1/N in the order given, read with Read Tag: \(printed.text) \(printed.stderr)")
        let refused = try client(["-p", "SCADA[0-1]=(SINT)1,2"])
        #expect(refused.status == 0 && refused.text == "            SCADA[0][  0-1  ]+  0 <= [1, 2]: 'Status 255 [8455]'\n",
                "a failed write exits 0 with -p, as cpppo's does: \(refused.text)")
        #expect(refused.stderr.contains("WARNING  validate   Client Single Write Tag  SCADA[0-1] returned non-zero status: Status 255 [8455]"))
        #expect(try client(["SCADA[0-1]=(SINT)1,2"]).status == 1, "and 1 without -p")
        #expect(try client(["-p", "SCADA[20]"]).status == 1, "a failed read exits 1")
        let usage = try client(["--bogus", "SCADA"])
        #expect(usage.status == 2, "a usage mistake exits 2, as argparse's: \(usage.stderr)")
        let multiple = try client(["-p", "-m", "SCADA[1]", "--multiple=300", "SCADA[2]"])
        #expect(multiple.status == 0 && multiple.text.split(separator: "\n").count == 2, "-m and --multiple=N: \(multiple.text) \(multiple.stderr)")
        #expect(throws: Never.self, "writes print as cpppo's server prints them") { try server.waitForLine(startingWith: "               SCADA[    1-1    ] <= [99] ") }
        #expect(throws: Never.self, "reads too with -v") { try server.waitForLine(startingWith: "               SCADA[    0-3    ] == [0, 99, 0, 0]") }
        #expect(throws: Never.self) { try server.waitForLine(startingWith: "                Bare[    0-0    ] <= [7] ") }
    }

    @Test func widenWritesTakesNarrowerTypesAsCpppoDoes() throws {
        let (server, port) = try server(["--widen-writes", "SCADA=INT[4]", "Tag=DINT[10]", "Level=REAL"])
        defer { server.stop() }
        let client = try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "-p", "Tag[8-9]=88,-99", "SCADA[0-1]=(SINT)3,-4",
                                                         "SCADA[2]=(DINT)5", "Level=(INT)7", "Tag[8-9]", "SCADA[0-1]", "Level"])
        #expect(client.text.split(separator: "\n").map { $0.split(separator: ": ", maxSplits: 1).last.map(String.init) ?? "" } ==
                ["'OK'", "'OK'", "'Status 255 [8455]'", "'OK'", "'OK'", "'OK'", "'OK'"], "a wider type is still refused: \(client.text)")
        #expect(client.text.contains("Tag[8][  8-9  ]+  0 == [88, -99]") && client.text.contains("SCADA[0][  0-1  ]+  0 == [3, -4]")
                && client.text.contains("Level              == [7.0]"), "\(client.text)")
    }

    @Test func getAttributeAndTheIdentityAreCpppos() throws {
        let (server, port) = try server(["SCADA=INT[2]"])
        defer { server.stop() }
        let got = try Peers.run(try Peers.fieldgw(), ["get-attribute", "-a", "127.0.0.1:\(port)", "--depth", "3", "@1/1", "@1/1/7", "@2/1/1"])
        let lines = got.text.split(separator: "\n").map { $0.split(separator: ": ", maxSplits: 1).last.map(String.init) ?? "" }
        #expect(got.status == 0 && lines.count == 3, "status \(got.status): \(got.text) \(got.stderr)")
        let identity = lines.first.map { $0.split(separator: "== ").last ?? "" } ?? ""
        #expect(identity.split(separator: ",").count == 39, "Get Attributes All: 39 bytes, as a 1756-L61's: \(identity)")
        #expect(identity.hasSuffix("53, 54, 49, 3, 0, 0, 0]"), "the name, state 3, configuration consistency 0, heartbeat 0")
        #expect(lines[1] == "  1: Single G_A_S      @0x0001/1/7 == [20, 49, 55, 53, 54, 45, 76, 54, 49, 47, 66, 32, 76, 79, 71, 73, 88, 53, 53, 54, 49]")
        #expect(lines[2] == "  2: Single G_A_S      @0x0002/1/1 == [0, 0, 0, 0]", "a tag's attribute, its raw bytes")
        #expect(got.text.range(of: #"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}:   0: "#, options: .regularExpression) != nil,
                "time.ctime() and the index first: \(got.text)")
        let failed = try Peers.run(try Peers.fieldgw(), ["get-attribute", "-a", "127.0.0.1:\(port)", "@1/1/99"])
        #expect(failed.status == 1 && failed.text.hasSuffix("Single G_A_S      @0x0001/1/99 == None\n"), "\(failed.text)")
    }
}

/// libplctag's ab_server refuses a RegisterSession whose sender context is
/// not zero; controllers' own tools and pylogix send zeros, and so do we.
@Suite(.ownThreads) struct RegisterSessionContextTests {
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
