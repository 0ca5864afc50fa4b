import Foundation
import NIOPosix
import TestSupport
import Testing
@testable import EtherNetIP

/// The tags the peer scripts expect, on a server of the test's own.
func startTagServer(host: String = "127.0.0.1", port: Int = 0) async throws -> ENIPServer {
    var tags = TagTable()
    try tags.addStructure(definition: "Motor=Speed:REAL,Run:BOOL,Fault:BOOL,Counts:DINT[4],Name:STRING")
    for definition in ["SCADA=INT[1000]", "Temp=REAL", "Grid=DINT[4,8]", "Flags=BOOL[64]", "Label=STRING", "Pump=Motor", "Pumps=Motor[3]"] {
        try tags.add(definition: definition)
    }
    return try await ENIPServer.start(host: host, port: port, router: MessageRouter(tags: tags), group: MultiThreadedEventLoopGroup.singleton)
}

func enipPeer(_ script: String) -> String {
    Peers.packageRoot.appendingPathComponent("Tests/EtherNetIPTests/Peers/\(script)").path
}

@Suite(.ownThreads) struct ENIPInteropTests {
    @Test func pylogixReadsWritesAndListsTags() async throws {
        let server = try await startTagServer()
        let output = try Peers.run(Peers.python(), [enipPeer("pylogix_client.py"), "\(server.port)"])
        try await server.close()
        #expect(output.status == 0, "\(output.stderr)")
        let seen = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
        #expect(seen["write"] as? String == "Success")
        #expect(seen["read"] as? Int == 99)
        #expect(seen["range"] as? [Int] == [0, 0, 0, 99, 0])
        #expect(seen["real"] as? Double == 21.5)
        #expect(seen["grid"] as? Int == -123456)
        #expect(seen["whole"] as? [Int] == [1000, 99, 5], "2000 bytes: a partial reply (0x06), then fragments")
        #expect((seen["structure"] as? [Any]).map { "\($0)" } == #"["from pylogix", 12.5, 1, 0, "second"]"#)
        #expect(seen["tags"] as? [[AnyHashable]] == [["Flags", "DWORD", 1], ["Grid", "DINT", 2], ["Label", "STRING", 0], ["Pump", "Motor", 0],
                                                     ["Pumps", "Motor", 1], ["SCADA", "INT", 1], ["Temp", "REAL", 0]])
        #expect(seen["missing"] as? String == "Path destination unknown")
        #expect((seen["clock_skew_s"] as? Double ?? 99) < 5, "SetPLCTime then GetPLCTime")
    }

    /// Every atomic type, written and read back by pycomm3 (a BOOL as 0xFF,
    /// as pycomm3 writes it) and read by pylogix.
    @Test func everyAtomicTypeRoundTrips() async throws {
        var tags = TagTable()
        for definition in ["Run=BOOL", "S=SINT", "I=INT", "D=DINT", "L=LINT", "US=USINT", "UI=UINT", "UD=UDINT", "UL=ULINT",
                           "R=REAL", "LR=LREAL"] { try tags.add(definition: definition) }
        let server = try await ENIPServer.start(host: "127.0.0.1", port: 0, router: MessageRouter(tags: tags), group: MultiThreadedEventLoopGroup.singleton)
        let script = """
            import sys
            from pycomm3 import LogixDriver
            from pylogix import PLC
            values = dict(Run=True, S=-7, I=-30000, D=-2000000000, L=-5000000000, US=200, UI=60000, UD=4000000000,
                          UL=18000000000000000000, R=1.5, LR=2.5e100)
            with LogixDriver(f"127.0.0.1:{sys.argv[1]}") as plc:
                errors = [tag.error for tag in plc.write(*values.items())]
                back = {tag.tag: tag.value for tag in plc.read(*values)}
            with PLC("127.0.0.1") as other:
                other.Port = int(sys.argv[1])
                seen = {name: other.Read(name).Value for name in values}
            print(errors == [None] * len(values), back == values, seen == {**values, "Run": True})
            """
        let output = try Peers.run(Peers.python(), ["-c", script, "\(server.port)"])
        try await server.close()
        #expect(output.text == "True True True\n", "\(output.text) \(output.stderr)")
    }

    /// pylogix broadcasts ListIdentity to 255.255.255.255 on the port given.
    @Test func pylogixDiscoversTheServerOverUDP() async throws {
        let server = try await startTagServer(host: "0.0.0.0")
        let output = try Peers.run(Peers.python(), [enipPeer("pylogix_client.py"), "\(server.port)", "discover"])
        try await server.close()
        #expect(output.status == 0, "\(output.stderr)")
        let found = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [[String]])
        #expect(found.map { Array($0.dropFirst()) } == [["1756-L61/B LOGIX5561", "20.11"]], "\(found)")
        #expect(found.first?.first != "0.0.0.0", "the address of the interface that reaches the asker")
    }

    @Test func pycomm3ConnectsInFullAndReadsAndWrites() async throws {
        let server = try await startTagServer()
        let output = try Peers.run(Peers.python(), [enipPeer("pycomm3_client.py"), "\(server.port)"])
        #expect(server.router.connections.count == 0, "pycomm3 closed its connection on leaving")
        try await server.close()
        #expect(output.status == 0, "\(output.stderr)")
        let seen = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
        #expect(seen["name"] as? String == "fieldgw")
        #expect(seen["product"] as? String == "1756-L61/B LOGIX5561")
        #expect(seen["tags"] as? [String] == ["Flags", "Grid", "Label", "Pump", "Pumps", "SCADA", "Temp"])
        #expect(seen["types"] as? [String] == ["Motor", "STRING"])
        #expect((seen["write_errors"] as? [Any])?.allSatisfy { $0 is NSNull } == true, "\(seen)")
        let read = try #require(seen["read"] as? [Any])
        #expect("\(read.prefix(8))" == #"[7, 3.25, -5, 1, 0, "hello plant", 77, "second"]"#)
        let pump = try #require(read.last as? [String: Any])
        #expect("\(pump["Speed"]!) \(pump["Run"]!) \(pump["Fault"]!) \(pump["Counts"]!) \(pump["Name"]!)" == "1.5 0 1 [1, 2, 3, 4] x")
        #expect(seen["array"] as? [Int] == [1000, 7, 6])
        #expect(seen["missing"] as? Bool == true)
    }
}

@Suite(.ownThreads) struct CpppoInteropTests {
    @Test func cppposClientAgainstOurServer() async throws {
        let server = try await startTagServer()
        let output = try Peers.run(Peers.cpppoPython(), ["-m", "cpppo.server.enip.client", "-a", "127.0.0.1:\(server.port)", "--print",
                                                         "SCADA[1]=99", "SCADA[0-10]", "Temp=(REAL)1.5", "Temp", "SCADA[998-999]=(INT)-7,8", "SCADA[997-999]"])
        try await server.close()
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.text.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines == ["SCADA[1][ 1-1 ]+ 0 <= [99]: 'OK'", "SCADA[0][ 0-10 ]+ 0 == [0, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0]: 'OK'",
                          "Temp <= [1.5]: 'OK'", "Temp == [1.5]: 'OK'", "SCADA[998][998-999]+ 0 <= [-7, 8]: 'OK'",
                          "SCADA[997][997-999]+ 0 == [0, -7, 8]: 'OK'"],
                "\(output.text)")
    }

    @Test func ourClientAgainstCppposServer() async throws {
        let port = try Peers.freePort()
        let peer = try PeerProcess(Peers.cpppoPython(), ["-m", "cpppo.server.enip", "-v", "-a", "127.0.0.1:\(port)", "SCADA=INT[1000]", "Temp=REAL"])
        defer { peer.stop() }
        // It logs "starting on" just before it binds; then a plain connect
        // tells when it listens (both waited for on this thread, not with
        // awaits that a busy concurrency pool would make late).
        try peer.waitForError(containing: "starting on", timeout: 60)
        let deadline = Date().addingTimeInterval(30)
        while (try? RawConnection(port: port)) == nil && Date() < deadline { usleep(20_000) }
        let connected = try await ENIPClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(30))
        let operations = try ["SCADA[1]=99", "SCADA[0-10]", "Temp=(REAL)1.5", "Temp", "SCADA[0-999]"].map { try TagOperation(parsing: $0) }
        var results: [TagResult] = []
        for try await result in connected.perform(operations + operations, depth: 4, multiple: 300) { results.append(result) }
        #expect(results.allSatisfy { $0.status == .success }, "\(results)")
        #expect(results[1].values == ["0", "99"] + Array(repeating: "0", count: 9))
        #expect(results[3].values == ["1.5"] && results[4].values?.count == 1000 && results[9].values?.count == 1000)
        await connected.close()
    }
}

/// libplctag's ab_server (built from source by `make test`), the C
/// simulator libplctag tests itself against: it takes no Unconnected Send
/// (our client then sends requests as they are) and writes its connected
/// replies' items six bytes early (our client reads the reply where
/// libplctag does).
@Suite(.ownThreads) struct ABServerInteropTests {
    /// ab_server on a port of its own, once it accepts connections.
    private func abServer() async throws -> (PeerProcess, Int) {
        let reserved = try Peers.ReservedPort()
        let port = reserved.port
        reserved.release()
        let peer = try PeerProcess(Peers.built("ab_server"), ["--plc=ControlLogix", "--path=1,0", "--port=\(port)",
                                                               "--tag=SCADA:INT[1000]", "--tag=Temp:REAL[1]", "--tag=Big:DINT[4]"])
        let listening = try await offPool {
            let deadline = Date().addingTimeInterval(20)
            while (try? RawConnection(port: port)) == nil && Date() < deadline { usleep(20_000) }
            return (try? RawConnection(port: port)) != nil
        }
        try #require(listening, "ab_server did not listen on \(port)")
        return (peer, port)
    }

    /// This ab_server reads and writes from the tag's first element whatever
    /// element the path names (only a fragmented service's byte offset
    /// moves it), so every operation here starts at element 0; the 600
    /// values go as Write Tag Fragmented, the 1000 come back as Read Tag
    /// Fragmented, both by byte offset.
    @Test(arguments: [false, true])
    func ourClientReadsAndWrites(connected: Bool) async throws {
        let (peer, port) = try await abServer()
        // It keeps no state worth a clean exit, and waits for no signal but SIGINT's.
        defer { peer.stop(signal: SIGKILL) }
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton)
        if connected { try await client.forwardOpen() }
        let many = (0..<600).map { String($0 * 3 - 900) }.joined(separator: ",")
        let texts = ["SCADA[0-3]=(INT)99,-1,7,300", "SCADA[0-3]", "Temp=(REAL)1.5", "Temp", "Big[0-3]=(DINT)1,-2,3,-400000", "Big[0-3]",
                     "SCADA[0-599]=(INT)\(many)", "SCADA[0-999]"]
        var results: [TagResult] = []
        for try await result in client.perform(try texts.map { try TagOperation(parsing: $0) }, depth: 1, multiple: 0) { results.append(result) }
        await client.close()
        try #require(results.count == texts.count, "\(results)")
        #expect(results.map(\.status) == Array(repeating: .success, count: texts.count), "\(results)")
        #expect(results[1].values == ["99", "-1", "7", "300"] && results[3].values == ["1.5"] && results[5].values == ["1", "-2", "3", "-400000"])
        let whole = results[7].values ?? []
        #expect(whole.count == 1000 && Array(whole.prefix(600)) == many.split(separator: ",").map(String.init) && whole[600] == "0")
    }

    /// The command a user types, which found our client refused before.
    @Test func enipClientCommandReadsAndWrites() async throws {
        let (peer, port) = try await abServer()
        // It keeps no state worth a clean exit, and waits for no signal but SIGINT's.
        defer { peer.stop(signal: SIGKILL) }
        let output = try await offPool {
            try Peers.run(Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "SCADA[0-1]=42,43", "SCADA[0-2]"])
        }
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.text.hasPrefix("SCADA[0-1]=42,43: OK\nSCADA[0-2] == [42, 43, 0]\n"), "\(output.text)")
    }
}
