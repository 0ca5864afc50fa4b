import Foundation
import NIOPosix
import TestSupport
import Testing
@testable import EtherNetIP

/// The tags the peer scripts expect, on a server of the test's own.
func startTagServer() async throws -> ENIPServer {
    var tags = TagTable()
    for definition in ["SCADA=INT[1000]", "Temp=REAL", "Grid=DINT[4,8]", "Flags=BOOL[64]"] { try tags.add(definition: definition) }
    return try await ENIPServer.start(host: "127.0.0.1", port: 0, router: MessageRouter(tags: tags), group: MultiThreadedEventLoopGroup.singleton)
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
        #expect(seen["tags"] as? [[AnyHashable]] == [["Flags", "DWORD", 1], ["Grid", "DINT", 2], ["SCADA", "INT", 1], ["Temp", "REAL", 0]])
        #expect(seen["missing"] as? String == "Path destination unknown")
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
        #expect(seen["tags"] as? [String] == ["Flags", "Grid", "SCADA", "Temp"])
        #expect((seen["write_errors"] as? [Any])?.allSatisfy { $0 is NSNull } == true, "\(seen)")
        #expect((seen["read"] as? [Any]).map { "\($0)" } == "[7, 3.25, -5, 1, 0]")
        #expect(seen["array"] as? [Int] == [1000, 7, 6])
        #expect(seen["missing"] as? Bool == true)
    }
}
