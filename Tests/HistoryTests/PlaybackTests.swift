import Foundation
import History
import Testing
import TestSupport

/// `fieldgw playback` and `enip-server --playback`, against running simulators.
@Suite(.ownThreads) struct PlaybackTests {
    private func directory() throws -> String {
        let path = try Peers.scratchDirectory("playback").path
        return path
    }

    /// Tag records over 1.2 s, rotated into several files (gzip), and one register record.
    private func tagHistory(_ path: String) throws {
        let writer = try HistoryWriter(path: path, rotation: .init(maxBytes: 150, keep: 20, compression: .gzip))
        let start = 1_700_000_000.0
        for step in 0..<7 {
            let serial = JSONValue.array([.string("SCADA"), .array([.int(Int64(step % 4)), .int(Int64(step % 4))])])
            try writer.write(.object([("write", .array([.int(Int64(10 + step))]))]), serial: serial, at: Timestamp(start + Double(step) * 0.2))
        }
        try writer.write(.object([("read", .array([.double(21.5)]))]), serial: .array([.string("Temp"), .array([.int(0), .int(0)])]),
                         at: Timestamp(start + 1.2))
        try writer.write(.object([("40001", .int(5))]), at: Timestamp(start + 1.2))
        try writer.close()
    }

    private func enipServer(_ extra: [String] = []) throws -> (PeerProcess, String) {
        let server = try PeerProcess(try Peers.fieldgw(), ["enip-server", "-a", "127.0.0.1:0"] + extra + ["SCADA=INT[4]", "Temp=REAL"])
        return (server, String(try server.waitForLine(startingWith: "enip-server: EtherNet/IP on ").split(separator: ":").last!))
    }

    @Test func tagsAreReplayedAtTheRecordedPaceAcrossRotatedFiles() throws {
        let directory = try directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tags.hst"
        try tagHistory(path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).contains { $0.hasSuffix(".gz") })
        let (server, port) = try enipServer()
        defer { server.stop() }
        let started = Date()
        let playback = try Peers.run(try Peers.fieldgw(), ["playback", path, "--enip", "127.0.0.1:\(port)", "--speed", "2"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(playback.text == "playback: 8 records applied, 1 skipped from 2023-11-14 22:13:20.000 to 2023-11-14 22:13:21.200\n",
                "\(playback.text) \(playback.stderr)")
        #expect(elapsed >= 0.6, "1.2 s of records at twice the pace: \(elapsed) s")
        let read = try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "SCADA[0-3]", "Temp"])
        #expect(read.text.hasPrefix("SCADA[0-3] == [14, 15, 16, 13]\nTemp == [21.5]\n"), "\(read.text)")
    }

    @Test func registersAreReplayedOverModbusTCP() throws {
        let directory = try directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/registers.hst"
        let writer = try HistoryWriter(path: path)
        try writer.write(.object([("40001", .int(5)), ("40002", .int(6))]), at: Timestamp(1_700_000_000))
        try writer.write(.object([("1", .int(1)), ("30001", .int(3))]), at: Timestamp(1_700_000_001))
        try writer.write(.object([("read", .array([.int(1)]))]), serial: .array([.string("SCADA"), .array([.int(0), .int(0)])]),
                         at: Timestamp(1_700_000_002))
        try writer.close()
        let sim = try PeerProcess(try Peers.fieldgw(), ["modbus-sim", "-a", "127.0.0.1:0", "40001-40002=0", "1-2=0", "30001=0"])
        defer { sim.stop() }
        let port = try sim.waitForLine(startingWith: "modbus-sim: Modbus/TCP on 127.0.0.1:")
        let started = Date()
        let playback = try Peers.run(try Peers.fieldgw(), ["playback", path, "--modbus", "127.0.0.1:\(port)", "--speed", "0"])
        #expect(Date().timeIntervalSince(started) < 2, "--speed 0 does not wait")
        #expect(playback.text.hasPrefix("playback: 2 records applied, 1 skipped"), "\(playback.text) \(playback.stderr)")
        let read = try Peers.run(try Peers.fieldgw(), ["modbus-client", "-a", "127.0.0.1:\(port)", "40001-40002", "1", "30001"])
        #expect(read.text == "400001 = 5\n400002 = 6\n1 = 1\n300001 = 0\n", "\(read.text)")
    }

    @Test func theServerReplaysIntoItsOwnTags() throws {
        let directory = try directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tags.hst"
        try tagHistory(path)
        let (server, port) = try enipServer(["--playback", path, "--playback-speed", "0"])
        defer { server.stop() }
        #expect(try server.waitForLine(startingWith: "enip-server: playback: ") == "8 records applied, 1 skipped")
        let read = try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "SCADA[0-3]", "Temp"])
        #expect(read.text.hasPrefix("SCADA[0-3] == [14, 15, 16, 13]\nTemp == [21.5]\n"), "\(read.text)")
    }
}
