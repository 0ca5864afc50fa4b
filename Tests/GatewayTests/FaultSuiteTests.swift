import Foundation
@testable import Gateway
import Logging
import Modbus
import NIOPosix
import Serial
import Synchronization
import TestSupport
import Testing

/// The fault suite: the gateway under load while things go wrong around it
/// (a slave dies and comes back, a line's pty pair goes away and returns,
/// SIGTERM with 16 clients writing, clients that hold, dribble, flood and
/// never read). In every case no client is ever given a wrong value, and the
/// clients the fault does not concern are served as before. Bounded: a few
/// seconds each, on loopback and ptys only.
@Suite(.ownThreads) struct FaultSuiteTests {
    private let settings = SerialSettings(baud: 19200)
    private let group = MultiThreadedEventLoopGroup.singleton

    /// What one load client saw.
    struct Tally: Sendable {
        var right = 0
        /// Exception replies (0x0A, 0x0B, 0x06): honest refusals.
        var refused = 0
        /// A value or a reply that is not what the slave holds: must stay 0.
        var wrong: [String] = []
        /// Requests with no reply within the wait: the connection ended or stalled.
        var unanswered = 0
        /// The last value whose write was acknowledged, and those written
        /// since whose outcome is unknown (a timeout, 0x0B, says nothing of
        /// whether the slave applied it).
        var acknowledged: UInt16?
        var unknown: [UInt16] = []
    }

    /// A client on its own thread writing `register` of `unit` and reading it
    /// back, until `stop()` or until its connection ends. Each value written is
    /// new, so a read that returns anything but the last acknowledged write,
    /// a write of unknown outcome since, or an exception, is a wrong answer.
    final class LoadClient: Sendable {
        let tally = Mutex(Tally())
        private let done = DispatchSemaphore(value: 0)
        private let stopping = Atomic<Bool>(false)

        /// Exception codes counted as honest refusals (the gateway's own by default).
        private let honest: Set<UInt8>
        private let wait: Int32

        /// Each reply is waited for `wait` ms at most (then it counts as unanswered).
        init(port: Int, unit: UInt8, register: UInt16, honest: Set<UInt8> = [0x06, 0x0A, 0x0B], wait: Int32 = 3000) {
            self.honest = honest
            self.wait = wait
            Thread.detachNewThread { [self] in
                defer { done.signal() }
                guard let connection = try? RawConnection(port: port) else { return }
                var value = UInt16(register) << 8
                var transaction: UInt16 = 0
                while !stopping.load(ordering: .relaxed) {
                    value &+= 1
                    transaction &+= 2
                    guard step(connection, unit: unit, register: register, value: value, transaction: transaction) else { return }
                }
            }
        }

        /// One write and its read-back; false once the connection has ended.
        private func step(_ connection: RawConnection, unit: UInt8, register: UInt16, value: UInt16, transaction: UInt16) -> Bool {
            let write: [UInt8] = [6, UInt8(register >> 8), UInt8(register & 0xFF), UInt8(value >> 8), UInt8(value & 0xFF)]
            tally.withLock { $0.unknown.append(value) }
            connection.send(mbap(transaction, unit: unit, write))
            let written = FaultSuiteTests.replyPDU(connection, transaction: transaction, within: wait)
            if !record(written, expected: write, acknowledging: value) { return false }
            connection.send(mbap(transaction + 1, unit: unit, [3, UInt8(register >> 8), UInt8(register & 0xFF), 0, 1]))
            let read = FaultSuiteTests.replyPDU(connection, transaction: transaction + 1, within: wait)
            let possible = tally.withLock { [$0.acknowledged ?? 0] + $0.unknown }
            return record(read, expected: possible.map { [3, 2, UInt8($0 >> 8), UInt8($0 & 0xFF)] }, acknowledging: nil)
        }

        private func record(_ reply: [UInt8]?, expected: [UInt8], acknowledging value: UInt16?) -> Bool {
            record(reply, expected: [expected], acknowledging: value)
        }

        private func record(_ reply: [UInt8]?, expected: [[UInt8]], acknowledging value: UInt16?) -> Bool {
            tally.withLock { tally in
                guard let reply else { tally.unanswered += 1; return false }
                let function = expected.first?.first ?? 3
                if expected.contains(reply) {
                    tally.right += 1
                    if let value {
                        tally.acknowledged = value
                        tally.unknown = []
                    }
                } else if reply.count == 2, reply[0] == function | 0x80, honest.contains(reply[1]) {
                    tally.refused += 1
                } else {
                    tally.wrong.append("\(reply) for \(expected.count == 1 ? "\(expected[0])" : "one of \(expected.count), the last \(expected.suffix(3))")")
                }
                return true
            }
        }

        func stop() { stopping.store(true, ordering: .relaxed) }

        /// Waits for the client's thread to end (at most `seconds`); whether it did.
        func join(within seconds: Int) -> Bool { done.wait(timeout: .now() + .seconds(seconds)) == .success }

        var snapshot: Tally { tally.withLock { $0 } }
    }

    static func mbap(_ transaction: UInt16, unit: UInt8, _ pdu: [UInt8]) -> [UInt8] {
        let length = UInt16(pdu.count + 1)
        return [UInt8(transaction >> 8), UInt8(transaction & 0xFF), 0, 0, UInt8(length >> 8), UInt8(length & 0xFF), unit] + pdu
    }

    /// The PDU of the reply to `transaction`; nil if none came within 3 s
    /// or another transaction's came (the server answers in order).
    static func replyPDU(_ connection: RawConnection, transaction: UInt16, within wait: Int32 = 3000) -> [UInt8]? {
        let header = connection.receive(count: 7, within: wait)
        guard header.count == 7, UInt16(header[0]) << 8 | UInt16(header[1]) == transaction else { return nil }
        let length = Int(header[4]) << 8 | Int(header[5])
        let pdu = connection.receive(count: length - 1, within: wait)
        return pdu.count == length - 1 ? pdu : nil
    }

    private func bus(_ name: String, path: String, reopen: Duration = .milliseconds(500)) throws -> Bus {
        var options = Bus.Options(health: SlaveHealth.Policy(maximumTimeout: .milliseconds(150), backoff: .milliseconds(200),
                                                             maximumBackoff: .milliseconds(400)))
        options.reopenInterval = reopen
        return Bus(name: name, open: { [settings] in try SerialPort(path: path, settings: settings) }, options: options,
                   logger: Logger(label: "test.faults"))
    }

    /// Two slaves share a line; slave 2 dies under load and comes back. Its
    /// clients are refused (0x0B) while it is gone and served again once it
    /// returns; slave 1's clients are served throughout, never refused.
    @Test func aSlaveKilledAndRestartedUnderLoadCostsOnlyItsOwnClients() async throws {
        let line = try VirtualBus(ends: 3, settings: settings)
        let steady = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(repeating: 0, count: 8))]))
        // A slave that restarts keeps its registers, as a device's non-volatile memory does.
        let registers = UnitMap(devices: [2: holdingDevice(Array(repeating: 0, count: 8))])
        var flaky = SlaveThread(path: line.paths[2], settings: settings, units: registers)
        let bus = try bus("faults", path: line.paths[0])
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: Router(routes: Router.range(1...2, to: bus)), group: group)
        let targets: [(unit: UInt8, register: UInt16)] = [(1, 1), (1, 2), (2, 1), (2, 2)]
        let clients = targets.map { LoadClient(port: server.port, unit: $0.unit, register: $0.register) }

        usleep(800_000)
        flaky.stop()
        usleep(1_500_000)
        let whileGone = clients.map { $0.snapshot }
        flaky = SlaveThread(path: line.paths[2], settings: settings, units: registers)
        usleep(2_000_000)
        for client in clients { client.stop() }
        for client in clients { #expect(client.join(within: 5)) }

        for (index, client) in clients.enumerated() {
            let tally = client.snapshot
            #expect(tally.wrong.isEmpty && tally.unanswered == 0, "client \(index): \(tally)")
            if index < 2 {
                #expect(tally.refused == 0 && tally.right > 10, "slave 1's client \(index) is served throughout: \(tally)")
            } else {
                #expect(whileGone[index].refused > 0, "slave 2's client \(index) is refused while it is gone: \(whileGone[index])")
                #expect(tally.right > whileGone[index].right, "and served again once it is back: \(tally)")
            }
        }
        try await server.close()
        await bus.close()
        flaky.stop()
        steady.stop()
    }

    /// A line's adapter (a socat pty pair) goes away under load and comes
    /// back at the same path: its clients are refused while it is gone and
    /// served once it returns; a client of another line never notices.
    @Test func aLineWhosePtyPairDiesComesBackWhenItReturns() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-faults-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (adapter, device) = ("\(directory)/adapter", "\(directory)/device")
        var pair = try socatPair(adapter, device)
        let registers = UnitMap(devices: [1: holdingDevice(Array(repeating: 0, count: 8))])
        var slave = SlaveThread(path: device, settings: settings, units: registers)
        let other = try VirtualBus(ends: 2, settings: settings)
        let otherSlave = SlaveThread(path: other.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(repeating: 0, count: 8))]))
        let unplugged = try bus("unplugged", path: adapter, reopen: .milliseconds(100))
        let steady = try bus("steady", path: other.paths[0])
        var routes = Router.range(1...1, to: unplugged)
        routes[2] = Router.Route(bus: steady, slave: 1)
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: Router(routes: routes), group: group)
        let clients = [LoadClient(port: server.port, unit: 1, register: 1), LoadClient(port: server.port, unit: 2, register: 1)]

        usleep(800_000)
        // Unplugged: the adapter's name goes first (as udev removes it), then the device.
        try? FileManager.default.removeItem(atPath: adapter)
        try? FileManager.default.removeItem(atPath: device)
        pair.stop(signal: SIGKILL)
        slave.stop()
        usleep(1_200_000)
        let whileGone = clients.map { $0.snapshot }
        #expect(unplugged.downReason != nil, "the line is down while its adapter is gone")
        pair = try socatPair(adapter, device)
        slave = SlaveThread(path: device, settings: settings, units: registers)
        usleep(2_000_000)
        for client in clients { client.stop() }
        for client in clients { #expect(client.join(within: 5)) }

        let (gone, stayed) = (clients[0].snapshot, clients[1].snapshot)
        #expect(gone.wrong.isEmpty && gone.unanswered == 0 && whileGone[0].refused > 0, "refused while unplugged: \(gone)")
        #expect(gone.right > whileGone[0].right, "served again once plugged back: \(gone)")
        #expect(stayed.wrong.isEmpty && stayed.unanswered == 0 && stayed.refused == 0 && stayed.right > 10, "the other line: \(stayed)")
        try await server.close()
        await unplugged.close()
        await steady.close()
        slave.stop()
        otherSlave.stop()
        pair.stop(signal: SIGKILL)
    }

    /// A gateway process on a pty line with slave 1 (holding registers
    /// 0-15); extra `[[listener]]` keys in `listener`. Its Modbus/TCP port.
    private func gateway(on line: VirtualBus, listener: String = "") throws -> (PeerProcess, Int, String) {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-faults-\(UUID().uuidString).toml").path
        try """
            [[line]]
            name = "faults"
            adapter = "\(line.paths[0])"
            timeout_max_ms = 1000
            [[route]]
            units = "1"
            line = "faults"
            [[listener]]
            bind = "127.0.0.1:0"
            \(listener)
            [status]
            enabled = false
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let gateway = try PeerProcess(Peers.fieldgw(), ["gateway", "--config", config])
        let port = try #require(Int(try gateway.waitForLine(startingWith: "gateway: Modbus/TCP on 127.0.0.1:")))
        return (gateway, port, config)
    }

    /// SIGTERM while 16 clients write and read: the gateway exits 0 within
    /// its grace, every client's connection ends (none hangs), no client was
    /// told a wrong value, and what each slave register holds is the last
    /// write its client saw acknowledged, or one it sent after whose reply
    /// the stop cut.
    @Test func sigtermUnder16ClientsLeavesNoWrongOrHangingClient() throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let device = holdingDevice(Array(repeating: 0, count: 16))
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: device]))
        defer { slave.stop() }
        let (gateway, port, config) = try gateway(on: line)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let clients = (0..<16).map { LoadClient(port: port, unit: 1, register: UInt16($0)) }
        usleep(1_000_000)
        gateway.stop(signal: SIGTERM)
        #expect(gateway.exitStatus == 0, "\(gateway.standardError)")
        for (index, client) in clients.enumerated() {
            #expect(client.join(within: 5), "client \(index)'s connection ended")
            let tally = client.snapshot
            #expect(tally.wrong.isEmpty && tally.right > 0 && tally.unanswered <= 1, "client \(index): \(tally)")
            let held = device.store.value(at: ModbusAddress(table: .holdingRegisters, offset: UInt16(index)))
            #expect(held == (tally.acknowledged ?? 0) || tally.unknown.contains(held ?? 0), "register \(index) holds \(held ?? 0): \(tally)")
        }
    }

    /// Clients that hold connections, dribble half a header (slowloris),
    /// send junk, or pipeline thousands of reads and never read the replies,
    /// all at once against a gateway with room for 12: a well-behaved client
    /// is let in and served every request (never refused, never wrong), the
    /// held and half-sent connections are closed by the idle and frame
    /// timeouts, and junk is closed at once.
    @Test func misbehavingClientsDoNotKeepAnotherFromBeingServed() throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(repeating: 0, count: 16))]))
        defer { slave.stop() }
        let (gateway, port, config) = try gateway(on: line, listener: "connection_limit = 12\nidle_timeout_s = 1\nframe_timeout_s = 1")
        defer { try? FileManager.default.removeItem(atPath: config) }
        let held = try (0..<14).map { _ in try RawConnection(port: port) }
        let slowloris = try RawConnection(port: port)
        slowloris.send([0, 1, 0])
        let junk = try RawConnection(port: port)
        junk.send((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
        let neverReads = try RawConnection(port: port, receiveBuffer: 4096)
        neverReads.send((0..<3000).flatMap { Self.mbap(UInt16($0), unit: 1, [3, 0, 0, 0, 8]) })
        let polite = LoadClient(port: port, unit: 1, register: 3)

        #expect(junk.readsEndOfFile(within: 2), "junk is closed at once")
        #expect(slowloris.readsEndOfFile(within: 4), "half a header is closed by the frame timeout")
        usleep(2_000_000)
        polite.stop()
        #expect(polite.join(within: 5))
        let tally = polite.snapshot
        #expect(tally.wrong.isEmpty && tally.refused == 0 && tally.unanswered == 0 && tally.right > 10, "\(tally)")
        #expect(held.filter { $0.readsEndOfFile(within: 3) }.count == held.count, "held connections are closed when idle")
        gateway.stop(signal: SIGTERM)
        #expect(gateway.exitStatus == 0, "\(gateway.standardError)")
        withExtendedLifetime(neverReads) {}
    }

    /// socat joining two ptys named `first` and `second`, once both names exist.
    private func socatPair(_ first: String, _ second: String) throws -> PeerProcess {
        let socat = try PeerProcess(Peers.program("socat"), ["pty,raw,echo=0,link=\(first)", "pty,raw,echo=0,link=\(second)"])
        let deadline = Date().addingTimeInterval(5)
        while !(FileManager.default.fileExists(atPath: first) && FileManager.default.fileExists(atPath: second)) {
            guard Date() < deadline else { throw Peers.Missing(description: "socat made no pty pair: \(socat.standardError)") }
            usleep(10_000)
        }
        return socat
    }
}
