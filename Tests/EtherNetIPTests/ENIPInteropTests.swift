import Foundation
import NIOPosix
import TestSupport
import Testing
@testable import EtherNetIP

/// The tags the peer scripts expect, on a server of the test's own.
func startTagServer(host: String = "127.0.0.1") async throws -> ENIPServer {
    var tags = TagTable()
    try tags.addStructure(definition: "Motor=Speed:REAL,Run:BOOL,Fault:BOOL,Counts:DINT[4],Name:STRING")
    for definition in ["SCADA=INT[1000]", "Temp=REAL", "Grid=DINT[4,8]", "Flags=BOOL[64]", "Label=STRING", "Pump=Motor", "Pumps=Motor[3]"] {
        try tags.add(definition: definition)
    }
    return try await ENIPServer.start(host: host, port: 0, router: MessageRouter(tags: tags), group: MultiThreadedEventLoopGroup.singleton)
}

func enipPeer(_ script: String) -> String {
    Peers.packageRoot.appendingPathComponent("Tests/EtherNetIPTests/Peers/\(script)").path
}

@Suite struct ENIPInteropTests {
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
