import Foundation
@testable import Gateway
import Logging
import Modbus
import NIOCore
import NIOPosix
import Serial
import TestSupport
import Testing

/// Faults a fuzz and fault campaign found in the gateway (issue 13), each
/// through the real path: TCP clients, the router, a Bus on a paced pty line,
/// RTU slaves.
@Suite(.ownThreads) struct GatewayHardeningTests {
    private let settings = SerialSettings(baud: 19200)
    private let group = MultiThreadedEventLoopGroup.singleton

    private struct Rig {
        let line: VirtualBus
        let bus: Bus
        let slave: SlaveThread
        let server: ModbusTCPServer

        func stop() async throws {
            try await server.close()
            await bus.close()
            slave.stop()
        }
    }

    /// Slave 1 (holding registers 0..99) on a line; TCP units 1-3 to slaves 1-3.
    private func rig(noise: LineNoise = .none, options: Bus.Options = Bus.Options(health: .init(maximumTimeout: .milliseconds(200))),
                     readOnly: Bool = false) async throws -> Rig {
        let line = try VirtualBus(ends: 2, settings: settings, noise: noise)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(0..<100))]))
        let bus = Bus(name: "hard", port: try SerialPort(path: line.paths[0], settings: settings), options: options, logger: Logger(label: "test.bus"))
        let router = Router(routes: Router.range(1...3, to: bus))
        let serving: any ModbusServing = readOnly ? ReadOnlyServing(base: router) : router
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: serving, group: group)
        return Rig(line: line, bus: bus, slave: slave, server: server)
    }

    /// The rig's options with a queue of `capacity`.
    private func queue(_ capacity: Int) -> Bus.Options {
        var options = Bus.Options(health: .init(maximumTimeout: .milliseconds(200)))
        options.queueCapacity = capacity
        return options
    }

    private func frame(_ transaction: UInt16, unit: UInt8 = 1, _ pdu: [UInt8]) -> [UInt8] {
        let length = UInt16(pdu.count + 1)
        return [UInt8(transaction >> 8), UInt8(transaction & 0xFF), 0, 0, UInt8(length >> 8), UInt8(length & 0xFF), unit] + pdu
    }

    /// Reads one MBAP reply; its PDU.
    private func replyPDU(_ connection: RawConnection, within milliseconds: Int32 = 3000) -> [UInt8] {
        let header = connection.receive(count: 7, within: milliseconds)
        guard header.count == 7 else { return [] }
        let length = Int(header[4]) << 8 | Int(header[5])
        return connection.receive(count: length - 1, within: milliseconds)
    }

    /// Read-only is an allow-list: diagnostics that restart or silence a
    /// slave, file writes and unknown functions are refused like writes,
    /// and none reaches the line.
    @Test func readOnlyRefusesEverythingButReads() async throws {
        let rig = try await rig(readOnly: true)
        let client = try RawConnection(port: rig.server.port)
        let refused: [[UInt8]] = [[8, 0, 1, 0, 0], [8, 0, 4, 0, 0], [8, 0, 10, 0, 0], [21, 9, 6, 0, 1, 0, 0, 0, 1, 0, 0], [65, 1, 2],
                                  [100], [6, 0, 1, 0, 7], [16, 0, 0, 0, 1, 2, 0, 7], [23, 0, 0, 0, 1, 0, 0, 0, 1, 2, 0, 1], [43, 13]]
        for (index, pdu) in refused.enumerated() {
            client.send(frame(UInt16(index), pdu))
            #expect(replyPDU(client) == [pdu[0] | 0x80, 1], "function \(pdu[0]) refused")
        }
        #expect(rig.bus.counters.transactions == 0, "nothing reached the line")
        client.send(frame(50, [8, 0, 0, 0x12, 0x34]))
        #expect(replyPDU(client) == [8, 0, 0, 0x12, 0x34], "8/0 (echo) passes")
        client.send(frame(51, [3, 0, 5, 0, 1]))
        #expect(replyPDU(client) == [3, 2, 0, 5], "a read passes")
        #expect(rig.bus.counters.transactions == 2)
        try await rig.stop()
    }

    /// Requests no slave answers (function codes of 0x80 and up, functions
    /// the gateway does not know) used to open a healthy slave's breaker for
    /// every client. 0x80+ is refused before the line; unknown functions
    /// that go unanswered count against nobody.
    @Test func junkFunctionsDoNotOpenABreaker() async throws {
        let rig = try await rig()
        let junk = try RawConnection(port: rig.server.port), reader = try RawConnection(port: rig.server.port)
        for index in 0..<6 {
            junk.send(frame(UInt16(index), [0x83 + UInt8(index), 0, 0, 0, 1]))
            #expect(replyPDU(junk) == [0x83 + UInt8(index), 1], "refused by the gateway")
        }
        #expect(rig.bus.counters.transactions == 0)
        for index in 0..<5 {
            junk.send(frame(UInt16(index), unit: 3, [100, 1, 2, 3]))
            #expect(replyPDU(junk) == [100 | 0x80, 0x0B], "nobody answers function 100 as slave 3")
        }
        #expect(rig.bus.slaves[3]?.breaker ?? .closed == .closed && rig.bus.counters.failedFast == 0)
        reader.send(frame(9, unit: 3, [3, 0, 0, 0, 1]))
        #expect(replyPDU(reader) == [0x83, 0x0B])
        #expect(rig.bus.counters.failedFast == 0, "a read to slave 3 still went on the line (it timed out, honestly)")
        reader.send(frame(10, [3, 0, 7, 0, 1]))
        #expect(replyPDU(reader) == [3, 2, 0, 7])
        try await rig.stop()
    }

    /// A slave going offline and coming back, and its breaker opening and
    /// closing, are each one notice in the log, with the line and the slave
    /// as metadata.
    @Test func slaveAndBreakerEventsAreLogged() async throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let registers = UnitMap(devices: [1: holdingDevice(Array(0..<10))])
        var slave = SlaveThread(path: line.paths[1], settings: settings, units: registers)
        let capture = LogCapture()
        let policy = SlaveHealth.Policy(maximumTimeout: .milliseconds(100), backoff: .milliseconds(200), maximumBackoff: .milliseconds(400))
        let bus = Bus(name: "events", port: try SerialPort(path: line.paths[0], settings: settings), options: Bus.Options(health: policy),
                      logger: capture.logger(label: "test.events"))
        let poller = Poller(bus: bus, slave: 1, period: .milliseconds(50))
        poller.poll(ModbusAddress(40001)!)
        func waitFor(_ text: String) -> LogCapture.Record? {
            for _ in 0..<100 {
                if let found = capture.records.first(where: { $0.message.contains(text) }) { return found }
                usleep(50_000)
            }
            return nil
        }
        while poller.cycles < 3 { usleep(20_000) }
        slave.stop()
        let offline = waitFor("is offline"), opened = waitFor("breaker open")
        #expect(offline?.level == .notice && offline?.metadata["line"] == "events" && offline?.metadata["slave"] == "1", "\(capture.records.map(\.message))")
        #expect(opened?.level == .notice && opened?.metadata["slave"] == "1", "\(capture.records.map(\.message))")
        slave = SlaveThread(path: line.paths[1], settings: settings, units: registers)
        let closed = waitFor("breaker closed"), online = waitFor("is online")
        #expect(closed?.metadata["line"] == "events" && online?.metadata["slave"] == "1", "\(capture.records.map(\.message))")
        #expect(capture.records.filter { $0.message.contains("breaker open") }.count == 1, "one event, not one per failed probe")
        poller.stop()
        await bus.close()
        slave.stop()
    }

    /// Line noise alone used to hold a slave's breaker open (0 of 200 reads
    /// delivered). With the default policy the breaker stays out of the way
    /// of a slave that answers most requests, with or without retries, and
    /// no wrong answer is ever passed on.
    @Test(arguments: [0, 2]) func noiseDoesNotHoldTheBreakerOpen(retries: Int) async throws {
        // A learned timeout of no less than 500 ms: the slave is a thread of
        // this process, and in the full suite a busy machine can hold it that
        // long (CI saw 17 requests failed fast at a 50-ms floor, 30 at 150 ms). Noise still
        // costs what it costs: a damaged request is answered by nobody.
        var options = Bus.Options(health: .init(minimumTimeout: .milliseconds(500), maximumTimeout: .seconds(1)))
        options.retries = retries
        let rig = try await rig(noise: LineNoise(garbage: 0.02, bitFlip: 0.005, seed: 11), options: options)
        var delivered = 0
        let count = 80
        for index in 0..<count {
            // Consecutive reads of different lengths: a reply that comes after
            // its request timed out (the slave is a thread of a busy process)
            // cannot pass for the next one's. RTU has no transaction id; two
            // reads of one shape could not be told apart (see the README).
            let length = UInt16(index % 8 + 1)
            let reply = await rig.bus.request(Request.readHoldingRegisters(address: UInt16(index % 50), count: length).pdu, to: 1, priority: .forwarded)
            let expected = Response.registers((0..<length).map { UInt16(index % 50) + $0 }).pdu(for: .readHoldingRegisters(address: 0, count: length))
            if reply == expected { delivered += 1 } else { #expect(reply == [0x83, 0x0B], "never a wrong answer: \(reply ?? [])") }
        }
        let counters = rig.bus.counters
        #expect(counters.failedFast == 0, "the breaker never held the slave: \(counters), \(delivered) delivered")
        // This much noise damages about four requests or replies in ten.
        #expect(delivered >= count * (retries == 0 ? 2 : 3) / 4, "\(delivered) of \(count) delivered, \(rig.line.statistics)")
        #expect(rig.line.statistics.garbage > 0 && rig.line.statistics.flipped > 0)
        try await rig.stop()
    }

    /// A client pipelining writes used to hold off another client's reads
    /// for as long as its writes lasted (writes went first, with no turns).
    @Test func aClientPipeliningWritesDoesNotStarveAnothersReads() async throws {
        // A slave timeout of a second: the slave is a thread of this process, which the full suite can starve.
        var options = queue(200)
        options.health.maximumTimeout = .seconds(1)
        let rig = try await rig(options: options)
        let writer = try RawConnection(port: rig.server.port), reader = try RawConnection(port: rig.server.port)
        let writes = 150
        writer.send((0..<writes).flatMap { frame(UInt16($0), [6, 0, 90, 0, UInt8($0 & 0xFF)]) })
        try await Task.sleep(for: .milliseconds(50))
        var slowest = Duration.zero
        for index in 0..<10 {
            let started = ContinuousClock.now
            reader.send(frame(UInt16(index), [3, 0, UInt8(index), 0, 1]))
            #expect(replyPDU(reader) == [3, 2, 0, UInt8(index)])
            slowest = max(slowest, ContinuousClock.now - started)
        }
        // A transaction is ~12 ms at 19200 baud: the 150 writes queued are ~2 s of line.
        #expect(slowest < .milliseconds(600), "each read waited for one write at most, not for all: \(slowest)")
        let answers = (0..<writes).map { _ in replyPDU(writer, within: 30_000) }
        // Answered, every one: by the slave, or (a slave thread starved past its timeout) by the gateway's honest 0x0B.
        #expect(answers.allSatisfy { $0.first == 6 || $0 == [0x86, 0x0B] }, "every write answered: \(answers.filter { $0.first != 6 })")
        try await rig.stop()
    }

    /// A client pipelining past the queue used to get other clients' reads
    /// answered 0x06. Now the flooder is the one refused.
    @Test func aFullQueueRefusesTheFlooderNotTheOthers() async throws {
        let rig = try await rig(options: queue(16))
        let flooder = try RawConnection(port: rig.server.port), other = try RawConnection(port: rig.server.port)
        let flood = 200
        flooder.send((0..<flood).flatMap { frame(UInt16($0), [3, 0, 1, 0, 1]) })
        try await Task.sleep(for: .milliseconds(50))
        for index in 0..<15 {
            other.send(frame(UInt16(index), [3, 0, UInt8(index), 0, 1]))
            #expect(replyPDU(other) == [3, 2, 0, UInt8(index)], "never 0x06 for the other client")
        }
        let answers = (0..<flood).map { _ in replyPDU(flooder, within: 10_000) }
        #expect(answers.contains([0x83, 0x06]), "the flooder is refused")
        #expect(answers.allSatisfy { $0 == [3, 2, 0, 1] || $0 == [0x83, 0x06] })
        try await rig.stop()
    }
}
