import Foundation
import NIOPosix
import TestSupport
import Testing
@testable import EtherNetIP

/// tshark's EtherNet/IP and CIP dissectors read a capture of our client
/// talking to our server on port 44818 (where tshark looks for it) of a
/// loopback address of this test's own: nothing is malformed.
@Suite(.ownThreads) struct ENIPCaptureTests {
    @Test func tsharkDecodesOurTrafficWithNothingMalformed() async throws {
        let server = try await startTagServer(host: "127.0.0.2", port: 44818)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-\(UUID().uuidString).pcapng").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let capture = try PacketCapture.start(into: file)
        defer { capture.stop(signal: SIGINT) }
        let group = MultiThreadedEventLoopGroup.singleton
        _ = try await ENIPClient.discover(host: "127.0.0.2", port: 44818, wait: .milliseconds(200), group: group)
        let client = try await ENIPClient.connect(host: "127.0.0.2", port: 44818, group: group)
        let operations = try ["SCADA[1]=(INT)5", "SCADA[0-9]", "Temp=(REAL)2.5", "Pump.Speed", "Label", "SCADA[0-599]", "Nope"].map { try TagOperation(parsing: $0) }
        for try await _ in client.perform(operations) {}
        try await client.forwardOpen()
        for try await _ in client.perform(operations, depth: 4, multiple: 300) {}
        _ = try await client.listTags()
        await client.close()
        try await server.close()
        let expected: Set<String> = ["0x0063", "0x0065", "0x0066", "0x006f", "0x0070"]
        let commands = try decoded(file, until: expected)
        #expect(commands.isSuperset(of: expected), "\(commands.sorted())")
        let bad = try tshark(file, filter: "_ws.malformed || _ws.expert.severity >= error", fields: ["frame.number"])
        #expect(bad.isEmpty, "malformed frames: \(bad)")
        let symbols = try tshark(file, filter: "cip.symbol", fields: ["cip.symbol"])
        #expect(symbols.contains("SCADA") && symbols.contains("Pump"), "\(symbols)")
    }

    /// The encapsulation commands tshark finds, read again while probes push
    /// dumpcap's buffer to disk, until all expected are there.
    private func decoded(_ file: String, until expected: Set<String>) throws -> Set<String> {
        let probe = try PacketCapture.Probe()
        let deadline = Date().addingTimeInterval(15)
        var commands: Set<String> = []
        while !commands.isSuperset(of: expected) && Date() < deadline {
            probe.send()
            usleep(100_000)
            commands = Set(try tshark(file, filter: "enip", fields: ["enip.command"]).split(separator: "\n").map(String.init))
        }
        return commands
    }

    private func tshark(_ file: String, filter: String, fields: [String]) throws -> String {
        let arguments = ["-r", file, "-Y", "ip.addr==127.0.0.2 && (\(filter))", "-T", "fields"] + fields.flatMap { ["-e", $0] }
        return try Peers.run(try Peers.program("tshark"), arguments).text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
