#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Serial
import TestSupport

@Suite(.ownThreads) struct VirtualBusTests {
    /// Reads from `port` until `count` bytes arrived or `timeout` passed.
    private func collect(_ port: SerialPort, count: Int, timeout: Duration = .seconds(2)) throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        while bytes.count < count && ContinuousClock.now < deadline {
            bytes += try port.read(limit: count - bytes.count, deadline: deadline)
        }
        return bytes
    }

    private func ports(_ bus: VirtualBus) throws -> [SerialPort] {
        try bus.paths.map { path throws(SerialError) in try SerialPort(path: path, settings: bus.settings) }
    }

    @Test func everyOtherEndHearsAWriteAndTheWriterDoesNot() throws {
        let bus = try VirtualBus(ends: 3, paced: false)
        let ends = try ports(bus)
        try ends[0].write([0x01, 0x03, 0x00, 0x00])
        #expect(try collect(ends[1], count: 4) == [0x01, 0x03, 0x00, 0x00])
        #expect(try collect(ends[2], count: 4) == [0x01, 0x03, 0x00, 0x00])
        #expect(try ends[0].read(deadline: .now + .milliseconds(50)).isEmpty)
        try ends[2].write([0x99])
        #expect(try collect(ends[0], count: 1) == [0x99])
        #expect(try collect(ends[1], count: 1) == [0x99])
        #expect(bus.statistics.carried == 5)
    }

    @Test func localEchoReturnsTheWritersOwnBytes() throws {
        let bus = try VirtualBus(ends: 2, paced: false, localEcho: true)
        let ends = try ports(bus)
        try ends[0].write([1, 2, 3])
        #expect(try collect(ends[0], count: 3) == [1, 2, 3])
        #expect(try collect(ends[1], count: 3) == [1, 2, 3])
    }

    @Test func pacedBytesTakeTheirCharacterTimeOnTheWire() throws {
        // 9600 8E1: 11 bits a character, 1.146 ms; 100 characters take 114.6 ms.
        let bus = try VirtualBus(ends: 2, settings: SerialSettings(baud: 9600))
        let ends = try ports(bus)
        let start = ContinuousClock.now
        try ends[0].write([UInt8](repeating: 0x55, count: 100))
        let received = try collect(ends[1], count: 100)
        let elapsed = ContinuousClock.now - start
        #expect(received.count == 100)
        #expect(elapsed >= .microseconds(114_000), "\(elapsed)")
        #expect(elapsed < .milliseconds(600), "\(elapsed)")
    }

    /// At each change of speaker the carrier logs the wire's idle time, from
    /// its delivery of one end's last byte to its reading of the next end's first.
    @Test func silencesAreLoggedWhereTheSpeakerChanges() throws {
        let bus = try VirtualBus(ends: 2, settings: SerialSettings(baud: 19200))
        let ends = try ports(bus)
        try ends[0].write([1, 3, 0, 0, 0, 1])
        #expect(try collect(ends[1], count: 6).count == 6)
        usleep(5_000)
        try ends[1].write([1, 3, 2, 0, 7])
        #expect(try collect(ends[0], count: 5).count == 5)
        usleep(10_000)
        try ends[0].write([1])
        try ends[0].write([2])
        #expect(try collect(ends[1], count: 2).count == 2)
        let silences = bus.takeSilences()
        #expect(silences.map { [$0.after, $0.before] } == [[0, 1], [1, 0]], "\(silences)")
        #expect(silences.count == 2 && silences[0].idle >= .milliseconds(5) && silences[1].idle >= .milliseconds(10), "\(silences)")
        #expect(bus.takeSilences().isEmpty)
    }

    /// An end that writes while another's bytes are still on the wire is
    /// logged with a negative silence: the overlap a master must never cause.
    @Test func anEndThatSpeaksTooSoonIsLoggedAsOverlapping() throws {
        let bus = try VirtualBus(ends: 3, settings: SerialSettings(baud: 9600))
        let ends = try ports(bus)
        // 400 characters keep the wire busy for 458 ms: ample for the second write to land inside.
        try ends[0].write([UInt8](repeating: 0x55, count: 400))
        try ends[1].write([0xAA])
        #expect(try collect(ends[2], count: 401).count == 401)
        let silences = bus.takeSilences()
        #expect(silences.count == 1 && silences[0].after == 0 && silences[0].before == 1 && silences[0].idle < .zero, "\(silences)")
    }

    @Test func twoWritersShareTheWireInsteadOfOverlapping() throws {
        let bus = try VirtualBus(ends: 3, settings: SerialSettings(baud: 19200))
        let ends = try ports(bus)
        try ends[0].write([UInt8](repeating: 0xAA, count: 20))
        try ends[1].write([UInt8](repeating: 0xBB, count: 20))
        let heard = try collect(ends[2], count: 40)
        #expect(heard == [UInt8](repeating: 0xAA, count: 20) + [UInt8](repeating: 0xBB, count: 20))
    }

    @Test func bitFlipsChangeEveryByteAndAreCounted() throws {
        let bus = try VirtualBus(ends: 2, paced: false, noise: LineNoise(bitFlip: 1))
        let ends = try ports(bus)
        let sent: [UInt8] = Array(0..<64)
        try ends[0].write(sent)
        let heard = try collect(ends[1], count: 64)
        #expect(heard.count == 64)
        #expect(zip(sent, heard).allSatisfy { ($0 ^ $1).nonzeroBitCount == 1 })
        #expect(bus.statistics.flipped == 64)
    }

    @Test func droppedBytesNeverArrive() throws {
        let bus = try VirtualBus(ends: 2, paced: false, noise: LineNoise(drop: 0.5, seed: 7))
        let ends = try ports(bus)
        try ends[0].write([UInt8](repeating: 0x11, count: 200))
        let heard = try collect(ends[1], count: 200, timeout: .milliseconds(300))
        let dropped = bus.statistics.dropped
        #expect(dropped > 50 && dropped < 150)
        #expect(heard.count == 200 - dropped)
    }

    @Test func garbageArrivesAroundTheRealBytes() throws {
        let bus = try VirtualBus(ends: 2, paced: false, noise: LineNoise(garbage: 1, seed: 3))
        let ends = try ports(bus)
        try ends[0].write([0xC1, 0xC2])
        let heard = try collect(ends[1], count: 100, timeout: .milliseconds(200))
        let garbage = bus.statistics.garbage
        #expect(garbage >= 2 && heard.count == 2 + garbage)
        #expect(heard.last == 0xC2, "each real byte comes after its burst")
    }

    @Test func theSameSeedReplaysTheSameNoise() throws {
        func run() throws -> [UInt8] {
            let bus = try VirtualBus(ends: 2, paced: false, noise: LineNoise(garbage: 0.2, bitFlip: 0.2, drop: 0.1, seed: 42))
            let ends = try ports(bus)
            try ends[0].write(Array(0..<100))
            return try collect(ends[1], count: 1000, timeout: .milliseconds(200))
        }
        let first = try run()
        #expect(first != Array(0..<100))
        #expect(try run() == first)
    }

    @Test func gapsHoldTheLineSilent() throws {
        let bus = try VirtualBus(ends: 2, paced: false, noise: LineNoise(gap: 1, gapLength: .milliseconds(30)))
        let ends = try ports(bus)
        let start = ContinuousClock.now
        try ends[0].write([1, 2, 3, 4])
        #expect(try collect(ends[1], count: 4) == [1, 2, 3, 4])
        #expect(ContinuousClock.now - start >= .milliseconds(90), "three gaps of 30 ms between four bytes")
        #expect(bus.statistics.gaps == 4)
    }

    @Test func aStuckLineSendsOneByteUntilFreed() throws {
        let bus = try VirtualBus(ends: 2, settings: SerialSettings(baud: 115_200))
        let ends = try ports(bus)
        bus.stuck = 0x00
        let held = try collect(ends[1], count: 200)
        #expect(held == [UInt8](repeating: 0, count: 200), "86.8 µs a character: 200 in about 17 ms")
        #expect(try collect(ends[0], count: 10) == [UInt8](repeating: 0, count: 10), "every end hears it")
        bus.stuck = nil
        usleep(10_000)
        try ends[1].flush(.input)
        #expect(try ends[1].read(deadline: .now + .milliseconds(30)).isEmpty)
    }

    @Test func injectedBytesReachEveryEnd() throws {
        let bus = try VirtualBus(ends: 3, paced: false)
        let ends = try ports(bus)
        bus.inject([0xFF, 0x00])
        for end in ends { #expect(try collect(end, count: 2) == [0xFF, 0x00]) }
    }

    @Test func disconnectingAnEndIsAnUnplugForItsPort() throws {
        let bus = try VirtualBus(ends: 2, paced: false)
        let ends = try ports(bus)
        bus.disconnect(1)
        let error = #expect(throws: SerialError.self) { try ends[1].read(deadline: .now + .seconds(1)) }
        #expect(error?.code == .disconnected)
        try ends[0].write([1])
        let deadline = ContinuousClock.now + .seconds(2)
        while bus.statistics.carried == 0 && ContinuousClock.now < deadline { usleep(1000) }
        #expect(bus.statistics.carried == 1, "the bus goes on for the ends still on it")
    }
}
