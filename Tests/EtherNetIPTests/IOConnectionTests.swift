import Foundation
import NIOPosix
import Synchronization
import TestSupport
import Testing
@testable import EtherNetIP

/// The assemblies and Class 1 connections of one test's server: input 100
/// (4 bytes), output 150 (4 bytes; Idle writes 11 11 00 00, a timeout EE EE
/// 00 00), configuration 151 (empty), heartbeats 198 and 199.
final class IOBench: Sendable {
    let server: ENIPServer
    let input = Assembly(instance: 100, role: .input, size: 4)
    let output: Assembly
    /// Every change of the output assembly, in order.
    let writes = Recorder()

    final class Recorder: Sendable {
        private let list = Mutex<[[UInt8]]>([])
        func append(_ data: [UInt8]) { list.withLock { $0.append(data) } }
        var all: [[UInt8]] { list.withLock { $0 } }
    }

    init(limit: Int = 64, destinationPort: UInt16 = 2222, host: String = "127.0.0.1", port: Int = 0) async throws {
        let writes = self.writes
        output = Assembly(instance: 150, role: .output, size: 4, onIdle: .safe([0x11, 0x11, 0, 0]), onTimeout: .safe([0xEE, 0xEE, 0, 0]),
                          written: { data in writes.append(data) })
        let set = AssemblySet([input, output, Assembly(instance: 151, role: .configuration, size: 0)])
        let io = try IOExchange(assemblies: set, host: host, port: 0, destinationPort: destinationPort)
        let router = MessageRouter(tags: TagTable(), connections: ConnectionManager(limit: limit), io: io)
        server = try await ENIPServer.start(host: host, port: port, router: router, group: MultiThreadedEventLoopGroup.singleton,
                                            discovery: false)
    }

    var io: IOExchange { server.router.io! }
}

/// A Class 1 Forward Open as an originator sends it (CIP Vol. 1, 3-5.4.1.2):
/// point-to-point both ways unless asked, sizes in bytes with the sequence
/// count (and O→T's run/idle header) included, RPIs in microseconds.
struct ClassOneOpen {
    var serial: UInt16 = 1
    var clientID: UInt32 = 0x5000_0001
    var points: [UInt8] = [151, 150, 100]
    var sizeOut = 10
    var sizeIn = 6
    var rpi: UInt32 = 10_000
    /// The O→T RPI, when not `rpi`: a slower one makes the timeout (it times 4 << multiplier) long.
    var rpiOut: UInt32?
    var multiplier: UInt8 = 2
    var transport: UInt8 = 0x01
    /// The T→O connection type: 0 null, 1 multicast, 2 point-to-point.
    var typeIn = 2
    var key: [UInt8] = []
    /// A production inhibit time segment (milliseconds), before the key.
    var inhibit: UInt8?
    /// A Large Forward Open: 32-bit parameter words (type in bits 30-29, size in 15-0).
    var large = false

    var request: CIPRequest {
        var data: [UInt8] = [0x0A, 0x0E]
        data.append32(0)
        data.append32(clientID)
        data += ConnectionManager.Triple(serial: serial, vendor: 342, originator: 0x12345).bytes
        data += [multiplier, 0, 0, 0]
        for (size, type, interval) in [(sizeOut, 2, rpiOut ?? rpi), (sizeIn, typeIn, rpi)] {
            // Fixed size, scheduled priority, the type in bits 14-13 (29-30 in a large word).
            data.append32(interval)
            if large {
                data.append32(0x0800_0000 | UInt32(type) << 29 | UInt32(size))
            } else {
                data.append16(0x0800 | UInt16(type) << 13 | UInt16(size))
            }
        }
        let path = (inhibit.map { [0x43, $0] } ?? []) + key + [0x20, 0x04, 0x24, points[0], 0x2C, points[1], 0x2C, points[2]]
        data += [transport, UInt8(path.count / 2)] + path
        let service = large ? ConnectionManager.largeForwardOpen : ConnectionManager.forwardOpen
        return CIPRequest(service: service, path: CIPPath([.classID(6), .instance(1)]), data: data)
    }
}

/// The test's end of the I/O: a UDP socket on loopback where T→O packets
/// arrive and from which O→T packets go, every RPI from a thread of its own
/// as an originator sends them (a test's own task may be held up on a
/// loaded machine for longer than a connection's timeout).
final class RawOriginator: @unchecked Sendable {
    let socket: Int32
    let port: UInt16
    private struct Sending {
        var port: Int
        var connection: UInt32
        var header: UInt32?
        var data: [UInt8]
        var sequence: UInt32 = 0
        var count: UInt16 = 0
        var on = true
    }
    private let sending = Mutex<Sending?>(nil)

    /// A socket on 127.0.0.1, or on every address when it is to `join` a multicast group.
    init(anyAddress: Bool = false) throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = anyAddress ? 0 : inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            Glibc.close(fd)
            throw Peers.Missing(description: "bind: \(String(cString: strerror(errno)))")
        }
        socket = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit {
        stopSending()
        Glibc.close(socket)
    }

    /// Joins multicast `group` on the loopback interface; false if the kernel refuses.
    func join(_ group: String) -> Bool {
        var request = ip_mreq(imr_multiaddr: in_addr(s_addr: inet_addr(group)), imr_interface: in_addr(s_addr: inet_addr("127.0.0.1")))
        return setsockopt(socket, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ip_mreq>.size)) == 0
    }

    /// Sends O→T packets to `port` every 10 ms from now on: `header` nil for heartbeats.
    func keepSending(to port: Int, connection: UInt32, header: UInt32?, data: [UInt8] = []) {
        sending.withLock { $0 = Sending(port: port, connection: connection, header: header, data: data) }
        let thread = Thread { [self] in
            while let packet = sending.withLock({ state -> Sending? in
                guard var next = state, next.on else { return nil }
                next.sequence &+= 1
                state = next
                return next
            }) {
                send(to: packet.port, connection: packet.connection, sequence: packet.sequence, count: packet.count, header: packet.header,
                     data: packet.data)
                usleep(10_000)
            }
        }
        thread.start()
    }

    /// What the packets carry from now on; the sequence count moves with it.
    func sendFromNow(header: UInt32?, data: [UInt8]) {
        sending.withLock { state in
            state?.header = header
            state?.data = data
            state?.count &+= 1
        }
    }

    /// The sequence number the next packet sent would be newer than.
    var lastSequence: UInt32 { sending.withLock { $0?.sequence ?? 0 } }

    func stopSending() { sending.withLock { $0?.on = false } }

    struct Received: Equatable {
        let connection: UInt32
        let sequence: UInt32
        let count: UInt16
        let data: [UInt8]
    }

    /// The next T→O packet within `timeout`, nil when none comes.
    func receive(within timeout: Duration = .seconds(10)) -> Received? {
        var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)) == 1 else {
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: 1500)
        let count = recv(socket, &buffer, buffer.count, 0)
        guard count >= 18 else { return nil }
        let bytes = Array(buffer[..<count])
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        // Item count 2; 0x8002 of 8 bytes; 0x00B1 of 2 + data.
        guard u16(0) == 2, u16(2) == 0x8002, u16(4) == 8, u16(14) == 0x00B1, Int(u16(16)) == count - 18 else { return nil }
        return Received(connection: u32(6), sequence: u32(10), count: u16(18), data: Array(bytes[20...]))
    }

    /// Skips what is queued, then the first packet whose data is `data`.
    func receive(data: [UInt8], within timeout: Duration = .seconds(10)) -> Received? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let packet = receive(within: deadline - ContinuousClock.now), packet.data == data { return packet }
        }
        return nil
    }

    /// Reads away what is queued (until 50 ms pass with nothing).
    func drain() {
        while receive(within: .milliseconds(50)) != nil {}
    }

    /// No T→O packet within `quiet`.
    func silent(for quiet: Duration) -> Bool {
        let deadline = ContinuousClock.now + quiet
        while ContinuousClock.now < deadline {
            if receive(within: deadline - ContinuousClock.now) != nil { return false }
        }
        return true
    }

    /// An O→T packet: `header` nil sends none (a heartbeat).
    func send(to port: Int, connection: UInt32, sequence: UInt32, count: UInt16, header: UInt32?, data: [UInt8] = [],
              host: String = "127.0.0.1") {
        var payload: [UInt8] = []
        payload.append16(count)
        if let header { payload.append32(header) }
        payload += data
        var packet: [UInt8] = []
        packet.append16(2)
        packet.append16(0x8002)
        packet.append16(8)
        packet.append32(connection)
        packet.append32(sequence)
        packet.append16(0x00B1)
        packet.append16(UInt16(payload.count))
        packet += payload
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(socket, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
}

@Suite(.ownThreads) struct IOConnectionTests {
    private func open(_ bench: IOBench, _ request: ClassOneOpen, host: String = "127.0.0.1") async throws -> CIPReply {
        let client = try await ENIPClient.connect(host: host, port: bench.server.port, group: MultiThreadedEventLoopGroup.singleton)
        defer { Task { await client.close() } }
        return try await client.send(request.request)
    }

    @Test func assemblyDataIsReadAndWrittenAsAttributeThree() async throws {
        let bench = try await IOBench()
        defer { Task { try await bench.server.close() } }
        bench.input.store([1, 2, 3, 4])
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: bench.server.port, group: MultiThreadedEventLoopGroup.singleton)
        func request(_ service: UInt8, _ instance: UInt32, _ attribute: UInt32, _ data: [UInt8] = []) async throws -> CIPReply {
            try await client.send(CIPRequest(service: service, path: CIPPath([.classID(4), .instance(instance), .attribute(attribute)]), data: data))
        }
        #expect(try await request(0x0E, 100, 3).data == [1, 2, 3, 4])
        #expect(try await request(0x0E, 150, 4).data == [4, 0])
        #expect(try await request(0x10, 150, 3, [9, 8, 7, 6]).status == .success)
        #expect(bench.output.bytes == [9, 8, 7, 6] && bench.writes.all == [[9, 8, 7, 6]])
        #expect(try await request(0x10, 100, 3, [0, 0, 0, 0]).status == .attributeNotSettable)
        #expect(try await request(0x10, 150, 3, [1, 2]).status == .notEnoughData)
        #expect(try await request(0x10, 150, 3, [1, 2, 3, 4, 5]).status == .tooMuchData)
        #expect(try await request(0x0E, 150, 9).status == .attributeNotSupported)
        #expect(try await request(0x0E, 7, 3).status == .pathDestinationUnknown)
        await client.close()
    }

    @Test func forwardOpensThatCannotBeMetGetTheStatusTheSpecificationGives() async throws {
        // The inputs of the connections opened here go to a socket of this test's, not to 2222 where EIPScanner listens.
        let sink = try RawOriginator()
        let bench = try await IOBench(limit: 2, destinationPort: sink.port)
        defer { Task { try await bench.server.close() } }
        func status(_ change: (inout ClassOneOpen) -> Void) async throws -> CIPStatus {
            var request = ClassOneOpen(serial: UInt16.random(in: 1000...60000))
            change(&request)
            let reply = try await open(bench, request)
            // A refusal carries the triple and a remaining path size (CIP Vol. 1, 3-5.4.1.3).
            if reply.status != .success { #expect(reply.data.count == 10, "\(reply.data)") }
            return reply.status
        }
        #expect(try await status { $0.sizeOut = 8 } == CIPStatus(0x01, extended: [0x0127, 10]))
        #expect(try await status { $0.sizeIn = 4 } == CIPStatus(0x01, extended: [0x0128, 6]))
        #expect(try await status { $0.points = [151, 77, 100] } == .connectionFailure(0x012A))
        #expect(try await status { $0.points = [151, 150, 150] } == .connectionFailure(0x012B))
        #expect(try await status { $0.points = [9, 150, 100] } == .connectionFailure(0x0129))
        #expect(try await status { $0.typeIn = 0 } == .connectionFailure(0x0124))
        #expect(try await status { $0.typeIn = 3 } == .connectionFailure(0x0124))
        #expect(try await status { $0.transport = 0x11; $0.inhibit = 20 } == .connectionFailure(0x011B))
        #expect(try await status { $0.rpi = 500 } == .connectionFailure(0x0111))
        #expect(try await status { $0.transport = 0x21 } == .connectionFailure(0x0103))
        // An electronic key for another vendor's product.
        #expect(try await status { $0.key = [0x34, 0x04, 0x2A, 0x00, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x01] } == .connectionFailure(0x0114))
        #expect(try await status { $0.points = [151, 199, 100]; $0.sizeOut = 2 } == .connectionFailure(0x0119))
        // Large Forward Open: the same checks on its 32-bit words.
        #expect(try await status { $0.large = true; $0.sizeIn = 7 } == CIPStatus(0x01, extended: [0x0128, 6]))
        #expect(try await status { $0.large = true; $0.typeIn = 0 } == .connectionFailure(0x0124))
        // An owner (by Large Forward Open); then a second owner of the same outputs, the same triple again, and one too many.
        let owner = ClassOneOpen(serial: 7, large: true)
        let opened = try await open(bench, owner)
        #expect(opened.status == .success && opened.service == ConnectionManager.largeForwardOpen && opened.data.count == 26)
        #expect(try await status { $0.serial = 8 } == .connectionFailure(0x0106))
        #expect(try await open(bench, owner).status == .connectionFailure(0x0100))
        #expect(try await status { $0.points = [151, 199, 100]; $0.sizeOut = 2 } == .success)
        #expect(try await status { $0.points = [151, 198, 100]; $0.sizeOut = 2 } == .connectionFailure(0x0113))
        #expect(bench.io.count == 2)
    }

    @Test func anOwnersOutputsAndInputsGoByUDPWithRunIdleAndTimeout() async throws {
        let originator = try RawOriginator()
        let bench = try await IOBench(destinationPort: originator.port)
        defer { Task { try await bench.server.close() } }
        bench.input.store([1, 2, 3, 4])
        // A timeout of 128 O→T RPIs of 100 ms (12.8 s) while sending every 10 ms: a fresh-clone CI held
        // this whole process up past the 1.28 s that 10 ms RPIs gave, and the connection timed out.
        let reply = try await open(bench, ClassOneOpen(serial: 21, clientID: 0x7777_0001, rpiOut: 100_000, multiplier: 5))
        try #require(reply.status == .success)
        // The reply names where O→T goes: item 0x8000, 0.0.0.0 and the exchange's port, big-endian.
        let port = UInt16(bench.io.port)
        #expect(reply.items == [CommonPacket.Item(type: 0x8000, data: [0, 2, UInt8(port >> 8), UInt8(port & 0xFF)] + [UInt8](repeating: 0, count: 12))])
        let outID = UInt32(reply.data[0]) | UInt32(reply.data[1]) << 8 | UInt32(reply.data[2]) << 16 | UInt32(reply.data[3]) << 24
        // O→T from now on, from the originator's own thread: the connection lives however long this test's task is held up.
        originator.keepSending(to: bench.io.port, connection: outID, header: 1, data: [0x2A, 0, 7, 0])
        defer { originator.stopSending() }

        // T→O: produced at once and every RPI, to our connection id, in sequence.
        let first = try #require(try await offPool { originator.receive() })
        let second = try #require(try await offPool { originator.receive() })
        #expect(first.connection == 0x7777_0001 && first.data == [1, 2, 3, 4])
        #expect(second.sequence == first.sequence + 1 && second.count == first.count)
        bench.input.store([5, 6, 7, 8])
        let changed = try #require(try await offPool { originator.receive(data: [5, 6, 7, 8]) })
        #expect(changed.count == first.count &+ 1, "the sequence count moves when the data does")

        // O→T in Run: the outputs take the data; a stale sequence number changes nothing.
        #expect(try await eventually { bench.output.bytes == [0x2A, 0, 7, 0] }, "\(bench.io.connections) \(bench.io.timeouts)")
        originator.send(to: bench.io.port, connection: outID, sequence: 1, count: 9, header: 1, data: [0x99, 0, 0, 0])
        originator.sendFromNow(header: 1, data: [0x2B, 0, 7, 0])
        #expect(try await eventually { bench.output.bytes == [0x2B, 0, 7, 0] })
        #expect(!bench.writes.all.contains([0x99, 0, 0, 0]))
        // Idle: the Idle action; Run again: the data.
        originator.sendFromNow(header: 0, data: [0x2B, 0, 7, 0])
        #expect(try await eventually { bench.output.bytes == [0x11, 0x11, 0, 0] && bench.io.connections.first?.running == false })
        originator.sendFromNow(header: 1, data: [0x2C, 0, 7, 0])
        #expect(try await eventually { bench.output.bytes == [0x2C, 0, 7, 0] })
        let status = try #require(bench.io.connections.first)
        #expect(status.kind == "exclusive owner" && status.running == true && status.consumed >= 3 && status.dropped >= 1, "\(status)")
        originator.stopSending()

        // Silence: after the O→T RPI times 128 the connection closes, the timeout action is taken and T→O stops.
        #expect(try await eventually(within: .seconds(40)) { bench.io.count == 0 && bench.output.bytes == [0xEE, 0xEE, 0, 0] })
        #expect(bench.io.timeouts == 1)
        originator.drain()
        #expect(originator.silent(for: .milliseconds(200)))
    }

    @Test func inputOnlyHeartbeatsKeepInputsComingAndForwardCloseEndsThem() async throws {
        let originator = try RawOriginator()
        let bench = try await IOBench(destinationPort: originator.port)
        defer { Task { try await bench.server.close() } }
        bench.input.store([3, 1, 4, 1])
        // Heartbeats every 10 ms, a timeout of 512 O→T RPIs of 100 ms: a loaded machine may stall the test for seconds.
        let request = ClassOneOpen(serial: 31, clientID: 0x7777_0002, points: [151, 198, 100], sizeOut: 2, rpiOut: 100_000, multiplier: 7)
        let reply = try await open(bench, request)
        try #require(reply.status == .success)
        let outID = UInt32(reply.data[0]) | UInt32(reply.data[1]) << 8 | UInt32(reply.data[2]) << 16 | UInt32(reply.data[3]) << 24
        originator.keepSending(to: bench.io.port, connection: outID, header: nil)
        defer { originator.stopSending() }
        for _ in 1...30 { #expect(try await offPool { originator.receive()?.data } == [3, 1, 4, 1]) }
        #expect(try await eventually { bench.io.connections.first?.kind == "input only" && (bench.io.connections.first?.consumed ?? 0) >= 30 })
        // Forward Close: the connection ends, T→O stops, and no output was touched.
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: bench.server.port, group: MultiThreadedEventLoopGroup.singleton)
        var close: [UInt8] = [0x0A, 0x0E] + ConnectionManager.Triple(serial: 31, vendor: 342, originator: 0x12345).bytes
        close += [4, 0, 0x20, 0x04, 0x24, 151, 0x2C, 198, 0x2C, 100]
        let closed = try await client.send(CIPRequest(service: ConnectionManager.forwardClose, path: CIPPath([.classID(6), .instance(1)]), data: close))
        await client.close()
        originator.stopSending()
        #expect(closed.status == .success && bench.io.count == 0)
        originator.drain()
        #expect(originator.silent(for: .milliseconds(200)))
        #expect(bench.writes.all.isEmpty)
    }

    /// tshark's CIP Connection Manager and CIP I/O dissectors read a Class 1
    /// Forward Open, its reply and the I/O packets both ways with nothing
    /// malformed: the server on 127.0.0.3:44818 (where tshark looks for
    /// EtherNet/IP), the I/O ports decoded as CIP I/O.
    @Test func tsharkDecodesTheForwardOpenAndTheIOPackets() async throws {
        let originator = try RawOriginator()
        let bench = try await IOBench(destinationPort: originator.port, host: "127.0.0.3", port: 44818)
        defer { Task { try await bench.server.close() } }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-io-\(UUID().uuidString).pcapng").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let capture = try PacketCapture.start(into: file)
        defer { capture.stop(signal: SIGINT) }
        bench.input.store([1, 2, 3, 4])
        let reply = try await open(bench, ClassOneOpen(serial: 41, clientID: 0x7777_0041), host: "127.0.0.3")
        try #require(reply.status == .success)
        let outID = UInt32(reply.data[0]) | UInt32(reply.data[1]) << 8 | UInt32(reply.data[2]) << 16 | UInt32(reply.data[3]) << 24
        for sequence in 1...5 as ClosedRange<UInt32> {
            originator.send(to: bench.io.port, connection: outID, sequence: sequence, count: UInt16(sequence), header: 1, data: [9, 8, 7, 6],
                            host: "127.0.0.3")
            _ = originator.receive()
        }
        let decode = ["-d", "udp.port==\(bench.io.port),cipio", "-d", "udp.port==\(originator.port),cipio"]
        let ports = "(tcp.port==44818 && ip.addr==127.0.0.3) || udp.port==\(bench.io.port) || udp.port==\(originator.port)"
        func tshark(_ filter: String, _ fields: [String]) throws -> [String] {
            let arguments = ["-r", file] + decode + ["-Y", "(\(ports)) && (\(filter))", "-T", "fields"] + fields.flatMap { ["-e", $0] }
            return try Peers.run(try Peers.program("tshark"), arguments).text.split(separator: "\n").map(String.init)
        }
        // dumpcap writes what it saw a moment later: read until the last packets are there.
        let probe = try PacketCapture.Probe()
        let deadline = Date().addingTimeInterval(15)
        var connectionIDs: [String] = []
        while Set(connectionIDs).count < 2 && Date() < deadline {
            probe.send()
            usleep(100_000)
            connectionIDs = try tshark("cipio", ["enip.cpf.sai.connid"])
        }
        #expect(Set(connectionIDs) == ["0x\(String(outID, radix: 16, uppercase: false).leftPadded(8))", "0x77770041"], "\(connectionIDs)")
        let openers = try tshark("cip.cm.ot_connid || cip.cm.to_connid", ["cip.cm.to_connid"])
        #expect(openers.contains("0x77770041"), "the Forward Open and its reply: \(openers)")
        // The I/O payloads as CIP I/O carries them: O->T the sequence count, the Run header and the outputs; T->O the count and the inputs.
        let payloads = try tshark("cipio", ["udp.dstport", "cipio.data"])
        #expect(payloads.contains("\(bench.io.port)\t01000100000009080706"), "\(payloads)")
        #expect(payloads.contains { $0.hasPrefix("\(originator.port)\t") && $0.hasSuffix("01020304") }, "\(payloads)")
        let sequences = try tshark("udp.dstport==\(bench.io.port)", ["enip.cpf.sai.seq"])
        #expect(sequences.prefix(5) == ["1", "2", "3", "4", "5"], "the O->T sequence numbers: \(sequences)")
        let bad = try tshark("_ws.malformed || _ws.expert.severity >= error", ["frame.number"])
        #expect(bad.isEmpty, "malformed frames: \(bad)")
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
