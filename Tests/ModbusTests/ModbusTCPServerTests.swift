import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TestSupport
import StreamServer
import Testing
@testable import Modbus

@Suite(.ownThreads) struct ReplyOrderTests {
    @Test func repliesLeaveInTheOrderTheirRequestsCame() {
        var order = ReplyOrder<UInt16>()
        let first = order.enqueue(10), second = order.enqueue(11), third = order.enqueue(12)
        #expect(order.complete(third, reply: [3, 0]).isEmpty, "held back by the first two")
        #expect(order.complete(second, reply: nil).isEmpty, "no reply (a broadcast), still behind the first")
        let ready = order.complete(first, reply: [3, 1])
        #expect(ready.map(\.token) == [10, 12], "the first, then the third; the second sends nothing")
        #expect(ready.map(\.reply) == [[3, 1], [3, 0]])
        #expect(order.isEmpty)
    }
}

/// Replies to a read of address 0 wait until the test lets them go; others are at once.
private final class HeldServing: ModbusServing {
    private let held = Mutex<[EventLoopPromise<[UInt8]?>]>([])
    private let device = DeviceServing(units: UnitMap(fallback: holdingDevice(Array(0..<100))))

    func serve(unit: UInt8, pdu: [UInt8], from connection: ModbusConnection, on eventLoop: any EventLoop) -> Served {
        guard pdu == [3, 0, 0, 0, 1] else { return .now(device.reply(unit: unit, pdu: pdu)) }
        let promise = eventLoop.makePromise(of: [UInt8]?.self)
        held.withLock { $0.append(promise) }
        return .later(promise.futureResult)
    }

    var waiting: Int { held.withLock { $0.count } }

    func release() { held.withLock { $0.removeFirst() }.succeed([3, 2, 0, 42]) }
}

private func readRequest(_ transaction: UInt16, address: UInt16) -> [UInt8] {
    [UInt8(transaction >> 8), UInt8(transaction & 0xFF), 0, 0, 0, 6, 1, 3, UInt8(address >> 8), UInt8(address & 0xFF), 0, 1]
}

private func readReply(_ transaction: UInt16, value: UInt16) -> [UInt8] {
    [UInt8(transaction >> 8), UInt8(transaction & 0xFF), 0, 0, 0, 5, 1, 3, 2, UInt8(value >> 8), UInt8(value & 0xFF)]
}

@Suite(.ownThreads) struct ModbusTCPServerTests {
    @Test func aReplyThatMustWaitHoldsBackThoseAfterItOnItsConnectionOnly() async throws {
        let serving = HeldServing()
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: serving, group: MultiThreadedEventLoopGroup.singleton)
        let waiting = try RawConnection(port: server.port), other = try RawConnection(port: server.port)
        waiting.send(readRequest(1, address: 0) + readRequest(2, address: 5))
        other.send(readRequest(3, address: 7))
        #expect(other.receive(count: 11) == readReply(3, value: 7), "another connection is not held back")
        #expect(waiting.receive(count: 1, within: 300).isEmpty, "the at-once reply waits behind the held one")
        #expect(serving.waiting == 1)
        serving.release()
        #expect(waiting.receive(count: 22) == readReply(1, value: 42) + readReply(2, value: 5), "both, in order")
        try await server.close()
    }

    @Test func aHeldReplyForAClientThatHasGoneIsDroppedQuietly() async throws {
        let serving = HeldServing()
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: serving, group: MultiThreadedEventLoopGroup.singleton)
        var gone: RawConnection? = try RawConnection(port: server.port)
        gone!.send(readRequest(1, address: 0))
        let other = try RawConnection(port: server.port)
        other.send(readRequest(2, address: 9))
        #expect(other.receive(count: 11) == readReply(2, value: 9), "the request was read and is held")
        gone = nil
        other.send(readRequest(4, address: 1))
        #expect(other.receive(count: 11) == readReply(4, value: 1), "the server saw the close")
        serving.release()
        other.send(readRequest(5, address: 2))
        #expect(other.receive(count: 11) == readReply(5, value: 2), "the late reply had nowhere to go and harmed nothing")
        #expect(gone == nil)
        try await server.close()
    }

    /// A client that pipelines over a megabyte of requests without reading
    /// its replies is no longer read from until it does; nothing is lost and
    /// nobody else waits.
    @Test func aClientThatDoesNotReadItsRepliesStallsOnlyItself() async throws {
        var options = StreamServer.Options()
        options.connectionLimit = 10
        options.sendBuffer = 8192
        let server = try ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice(Array(0..<100)))),
                                               group: MultiThreadedEventLoopGroup.singleton, options: options)
        let greedy = try RawConnection(port: server.port, receiveBuffer: 4096), other = try RawConnection(port: server.port)
        let count = 120_000
        let requests = (0..<count).flatMap { readRequest(UInt16(truncatingIfNeeded: $0), address: UInt16($0 % 100)) }
        let sent = DispatchSemaphore(value: 0)
        let descriptor = greedy.descriptor
        Thread.detachNewThread {
            _ = requests.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            sent.signal()
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while server.pausedReading == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.pausedReading > 0, "the server stopped reading the client that reads nothing")
        other.send(readRequest(7, address: 3))
        #expect(other.receive(count: 11) == readReply(7, value: 3))
        let replies = greedy.receive(count: count * 11)
        #expect(replies.count == count * 11, "every reply came")
        let wrong = (0..<min(count, replies.count / 11)).filter { index in
            let reply: [UInt8] = Array(replies[index * 11..<index * 11 + 11])
            return reply != readReply(UInt16(truncatingIfNeeded: index), value: UInt16(index % 100))
        }
        #expect(wrong.isEmpty, "every reply in order with its id")
        sent.wait()
        try await server.close()
    }

    @Test func severalThreadsShareTheClientsOfOnePort() async throws {
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice(Array(0..<100)))),
                                                     group: MultiThreadedEventLoopGroup.singleton, threads: 3)
        let clients = try (0..<24).map { _ in try RawConnection(port: server.port) }
        for (index, client) in clients.enumerated() { client.send(readRequest(UInt16(index), address: UInt16(index))) }
        for (index, client) in clients.enumerated() {
            #expect(client.receive(count: 11) == readReply(UInt16(index), value: UInt16(index)))
        }
        try await server.close()
    }

    @Test func closingEndsEveryConnectionAndFreesThePort() async throws {
        let server = try await startServer()
        let client = try RawConnection(port: server.port)
        client.send(readRequest(1, address: 1))
        #expect(client.receive(count: 11) == readReply(1, value: 1))
        try await server.close()
        #expect(client.readsEndOfFile(within: 2))
        let again = try await ModbusTCPServer.start(host: "127.0.0.1", port: server.port, serving: DeviceServing(units: UnitMap(fallback: holdingDevice([5]))),
                                                    group: MultiThreadedEventLoopGroup.singleton)
        #expect(again.port == server.port)
        try await again.close()
    }

    /// A client the server refuses (not in the allow list) is closed at
    /// once; its request fails then, whether the close came before the write
    /// or after it.
    @Test func aRefusedClientFailsItsRequestsAtOnce() async throws {
        let capture = LogCapture()
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice([1]))),
                                                     group: MultiThreadedEventLoopGroup.singleton, accepts: { _ in false },
                                                     logger: capture.logger(label: "test.refused"))
        let second = try RawConnection(port: server.port)
        #expect(second.readsEndOfFile(within: 5), "the server closes the one it refuses")
        let said = capture.records.first?.message ?? ""
        #expect(said.hasPrefix("refused Modbus/TCP connection from 127.0.0.1:") && !said.contains("[IPv4]"), "the peer as an operator writes it: \(said)")
        for _ in 0..<20 {
            let refused = try await ModbusTCPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton,
                                                            timeout: .seconds(90))
            let started = ContinuousClock.now
            await #expect(throws: ModbusError.self) { try await refused.send(.readHoldingRegisters(address: 0, count: 1)) }
            // Far below the timeout: the full suite has held this test's threads for 14 s at a time.
            #expect(ContinuousClock.now - started < .seconds(45), "failed by the close, not by the 90 s timeout")
            await refused.close()
        }
        try await server.close()
    }

    /// Idle connections used to lock every new client out at the limit: now
    /// the longest-idle one makes room, and a client with a reply due is
    /// never the one closed.
    @Test func atTheLimitTheLongestIdleClientMakesRoom() async throws {
        let serving = HeldServing()
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: serving, group: MultiThreadedEventLoopGroup.singleton,
                                                     connectionLimit: 2)
        let oldest = try RawConnection(port: server.port), busy = try RawConnection(port: server.port)
        busy.send(readRequest(1, address: 0))
        let deadline = ContinuousClock.now + .seconds(5)
        while serving.waiting == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let newcomer = try RawConnection(port: server.port)
        newcomer.send(readRequest(2, address: 5))
        #expect(newcomer.receive(count: 11) == readReply(2, value: 5), "the newcomer is served")
        #expect(oldest.readsEndOfFile(within: 2), "the idle one was closed for it")
        let third = try RawConnection(port: server.port)
        third.send(readRequest(3, address: 7))
        #expect(third.receive(count: 11) == readReply(3, value: 7))
        #expect(newcomer.readsEndOfFile(within: 2), "idle once answered: it made room in turn, not the one with a reply due")
        serving.release()
        #expect(busy.receive(count: 11) == readReply(1, value: 42), "the busy one kept its connection and got its reply")
        try await server.close()
    }

    /// A client that sends nothing, or half a frame, is closed after its
    /// timeout; one that keeps talking is not.
    @Test func idleAndHalfSentConnectionsTimeOut() async throws {
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice(Array(0..<100)))),
                                                     group: MultiThreadedEventLoopGroup.singleton,
                                                     timeouts: .init(idle: .milliseconds(1000), frame: .milliseconds(400)))
        let idle = try RawConnection(port: server.port), half = try RawConnection(port: server.port), talker = try RawConnection(port: server.port)
        half.send(Array(readRequest(1, address: 1).prefix(9)))
        let started = ContinuousClock.now
        for index in 0..<15 {
            talker.send(readRequest(UInt16(index), address: UInt16(index)))
            #expect(talker.receive(count: 11) == readReply(UInt16(index), value: UInt16(index)))
            // A thread's sleep, not an await: a busy test pool must not make the talker late.
            usleep(100_000)
        }
        #expect(ContinuousClock.now - started > .milliseconds(1400))
        #expect(half.readsEndOfFile(within: 0), "the half-sent frame timed out")
        #expect(idle.readsEndOfFile(within: 0), "the idle client timed out")
        talker.send(readRequest(99, address: 9))
        #expect(talker.receive(count: 11) == readReply(99, value: 9), "the talker was never closed")
        try await server.close()
    }

    /// A client streaming pipelined requests whose every read ends mid-frame
    /// was closed once the frame timeout passed since the first partial frame,
    /// though each read finished one: under load, 120,000 pipelined requests
    /// took longer than 5 s and their client was dropped. The timeout now
    /// runs from the frame left over, not the first.
    @Test func aClientStreamingFramesAcrossReadsIsNotTakenForAHalfSentOne() async throws {
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice(Array(0..<100)))),
                                                     group: MultiThreadedEventLoopGroup.singleton,
                                                     timeouts: .init(idle: nil, frame: .seconds(1)))
        let streamer = try RawConnection(port: server.port)
        let stream = (0..<28).flatMap { readRequest(UInt16($0), address: UInt16($0)) }
        var sent = 0
        let started = ContinuousClock.now
        // Each send finishes the frame begun by the one before and begins the next.
        for _ in 0..<24 {
            let size = 12 + ((sent + 13) % 12 == 0 ? 2 : 1)
            streamer.send(Array(stream[sent..<sent + size]))
            sent += size
            usleep(100_000)
        }
        #expect(ContinuousClock.now - started > .seconds(2), "the stream outlasted the frame timeout")
        streamer.send(Array(stream[sent...]))
        let replies = streamer.receive(count: 28 * 11)
        #expect(replies == (0..<28).flatMap { readReply(UInt16($0), value: UInt16($0)) }, "every request answered, the client kept")
        try await server.close()
    }

    /// libmodbus answers the whole requests before a bad MBAP header in the
    /// same read; we did not answer any. Now they are answered, then the
    /// connection closes.
    @Test func theFramesBeforeABadHeaderAreAnsweredThenItCloses() async throws {
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: DeviceServing(units: UnitMap(fallback: holdingDevice(Array(0..<100)))),
                                                     group: MultiThreadedEventLoopGroup.singleton)
        let client = try RawConnection(port: server.port)
        let bad: [UInt8] = [0, 9, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1]
        client.send(readRequest(1, address: 1) + readRequest(2, address: 2) + readRequest(3, address: 3) + bad + readRequest(4, address: 4))
        #expect(client.receive(count: 33) == readReply(1, value: 1) + readReply(2, value: 2) + readReply(3, value: 3))
        #expect(client.readsEndOfFile(within: 2), "closed after the bad header; nothing after it answered")
        try await server.close()
    }

    /// Draining stops reading requests; a reply due (a serial transaction in
    /// flight) still goes out, and close waits for it.
    @Test func aDrainingServerSendsTheRepliesDueThenCloses() async throws {
        let serving = HeldServing()
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: serving, group: MultiThreadedEventLoopGroup.singleton)
        let client = try RawConnection(port: server.port), quiet = try RawConnection(port: server.port)
        client.send(readRequest(1, address: 0))
        let deadline = ContinuousClock.now + .seconds(30)
        while serving.waiting == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        server.drain()
        #expect(quiet.readsEndOfFile(within: 2), "a client with nothing due is closed at once")
        client.send(readRequest(2, address: 5))
        // A grace far beyond the test's own pace: a loaded machine has held a test's task for a minute before `release`.
        async let closed: Void = server.close(grace: .seconds(180))
        try await Task.sleep(for: .milliseconds(100))
        serving.release()
        #expect(client.receive(count: 11) == readReply(1, value: 42), "the reply due went out")
        #expect(client.readsEndOfFile(within: 2), "and nothing read after the drain was answered")
        try await closed
    }

    @Test func aPortInUseIsAnErrorThatSaysSo() async throws {
        let server = try await startServer()
        let error = await #expect(throws: (any Error).self) { try await startServer(port: server.port) }
        #expect("\(error!)".contains("Address already in use"), "\(error!)")
        #expect("\(error!)".contains("\(server.port)"), "names the address")
        try await server.close()
    }
}
