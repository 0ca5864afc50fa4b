import Foundation
import NIOPosix
import TestSupport
import Testing
@testable import EtherNetIP

/// T→O streams other than one cyclic stream per connection: multicast,
/// shared by every connection that asks for it, and change of state.
@Suite(.ownThreads) struct IOStreamTests {
    private func open(_ bench: IOBench, _ request: ClassOneOpen) async throws -> CIPReply {
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: bench.server.port, group: MultiThreadedEventLoopGroup.singleton)
        defer { Task { await client.close() } }
        return try await client.send(request.request)
    }

    private func close(_ bench: IOBench, serial: UInt16, points: [UInt8]) async throws -> CIPStatus {
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: bench.server.port, group: MultiThreadedEventLoopGroup.singleton)
        defer { Task { await client.close() } }
        var data: [UInt8] = [0x0A, 0x0E] + ConnectionManager.Triple(serial: serial, vendor: 342, originator: 0x12345).bytes
        data += [4, 0, 0x20, 0x04, 0x24, points[0], 0x2C, points[1], 0x2C, points[2]]
        return try await client.send(CIPRequest(service: ConnectionManager.forwardClose, path: CIPPath([.classID(6), .instance(1)]), data: data)).status
    }

    private func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    /// Two connections asking for T→O multicast get one stream: the same
    /// T→O connection id, the group of the CIP allocation for 127.0.0.1
    /// (host id 1: 239.192.1.0) in item 0x8001, and one packet per RPI at
    /// the group, whatever the number of connections. A third with another
    /// RPI is refused with the RPI it must take; when the input-only
    /// connection closes, the listen-only one ends with it and the group
    /// falls silent.
    @Test func multicastConnectionsShareOneStreamToTheGroup() async throws {
        let listener = try RawOriginator(anyAddress: true)
        let bench = try await IOBench(destinationPort: listener.port)
        defer { Task { try await bench.server.close() } }
        bench.input.store([7, 7, 7, 7])
        // Heartbeats every 10 ms, a timeout of 512 O→T RPIs of 100 ms: a loaded machine may stall the test for seconds.
        let inputOnly = ClassOneOpen(serial: 51, clientID: 0, points: [151, 198, 100], sizeOut: 2, rpiOut: 100_000, multiplier: 7, typeIn: 1)
        let first = try await open(bench, inputOnly)
        try #require(first.status == .success, "\(first.status)")
        let port = listener.port
        #expect(first.items.map(\.type) == [0x8000, 0x8001])
        #expect(first.items.last?.data == [0, 2, UInt8(port >> 8), UInt8(port & 0xFF), 239, 192, 1, 0] + [UInt8](repeating: 0, count: 8))
        try #require(listener.join("239.192.1.0"))
        let streamID = u32(first.data, 4)
        listener.keepSending(to: bench.io.port, connection: u32(first.data, 0), header: nil)
        defer { listener.stopSending() }
        let packet = try #require(try await offPool { listener.receive(data: [7, 7, 7, 7]) })
        #expect(packet.connection == streamID)

        var listenOnly = inputOnly
        listenOnly.serial = 52
        listenOnly.points = [151, 199, 100]
        let second = try await open(bench, listenOnly)
        try #require(second.status == .success, "\(second.status)")
        #expect(u32(second.data, 4) == streamID && second.items == first.items, "the same stream, the same group")
        // One stream: consecutive packets, one sequence number apart, all on one id.
        let packets = try await offPool { (0..<20).compactMap { _ in listener.receive() } }
        #expect(packets.count == 20 && Set(packets.map(\.connection)) == [streamID])
        #expect(zip(packets, packets.dropFirst()).allSatisfy { $1.sequence == $0.sequence &+ 1 }, "\(packets.map(\.sequence))")
        let status = bench.io.connections
        #expect(status.count == 2 && Set(status.map(\.multicast)) == ["239.192.1.0"] && Set(status.map(\.produced)).count == 1, "\(status)")

        var slower = listenOnly
        slower.serial = 53
        slower.rpi = 20_000
        let refused = try await open(bench, slower)
        // 0x0112 with the acceptable-RPI types (O→T fine, T→O required) and the RPIs: the one to take is 10 ms.
        #expect(refused.status == CIPStatus(0x01, extended: [0x0112, 0x0400, 0x86A0, 1, 10_000, 0]), "\(refused.status)")
        var changeOfState = listenOnly
        changeOfState.serial = 54
        changeOfState.transport = 0x11
        #expect(try await open(bench, changeOfState).status == .connectionFailure(0x0138))

        #expect(try await close(bench, serial: 51, points: [151, 198, 100]) == .success)
        listener.stopSending()
        #expect(bench.io.count == 0, "the listen-only connection ends with the last connection it listened beside")
        listener.drain()
        #expect(listener.silent(for: .milliseconds(200)))
    }

    /// A change-of-state connection (trigger 1) sends its input when it
    /// changes, not only every RPI (10 s here); no sooner than the
    /// production inhibit time after the last packet; and nothing in between.
    @Test func changeOfStateSendsWhenTheInputChanges() async throws {
        let originator = try RawOriginator()
        let bench = try await IOBench(destinationPort: originator.port)
        defer { Task { try await bench.server.close() } }
        bench.input.store([1, 0, 0, 0])
        // Multiplier 3: a timeout of 32 RPIs (320 s). A fresh-clone CI held the whole test process up for
        // about 100 s, past the 40 s that multiplier 0 gave, and the connection timed out under the test.
        let request = ClassOneOpen(serial: 61, clientID: 0x7777_0061, points: [151, 198, 100], sizeOut: 2, rpi: 10_000_000,
                                   multiplier: 3, transport: 0x11, inhibit: 100)
        let reply = try await open(bench, request)
        try #require(reply.status == .success, "\(reply.status)")
        originator.keepSending(to: bench.io.port, connection: u32(reply.data, 0), header: nil)
        defer { originator.stopSending() }
        let first = try #require(try await offPool { originator.receive(data: [1, 0, 0, 0], within: .seconds(200)) })

        let sent = ContinuousClock.now
        bench.input.store([2, 0, 0, 0])
        let changed = try #require(try await offPool { originator.receive(data: [2, 0, 0, 0], within: .seconds(200)) })
        #expect(ContinuousClock.now - sent < .seconds(9), "sent on change, not at the 10 s RPI")
        #expect(changed.count == first.count &+ 1, "new data, a new sequence count")
        // Two changes in a row: the second waits out the 100 ms inhibit time after the packet before it.
        bench.input.store([3, 0, 0, 0])
        let third = try #require(try await offPool { originator.receive(data: [3, 0, 0, 0], within: .seconds(200)) })
        #expect(third.count == changed.count &+ 1)
        #expect(ContinuousClock.now - sent >= .milliseconds(100), "no sooner than the inhibit time")
        #expect(try await offPool { originator.silent(for: .milliseconds(500)) }, "nothing while the input stays")
        #expect(bench.io.connections.first?.changeOfState == true)
    }
}
