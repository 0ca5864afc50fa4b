import Testing
@testable import Modbus
import TestSupport

/// The framer cases of issue 4, each fed in one batch and byte by byte.
@Suite(.ownThreads) struct RTUFramerTests {
    static let request = Request.readHoldingRegisters(address: 0, count: 2)
    static let requestFrame = RTUFrame.encode(unit: 1, pdu: request.pdu)
    static let reply = RTUFrame.encode(unit: 1, pdu: Response.registers([0x2A, 0x07]).pdu(for: request))
    static let otherSlavesReply = RTUFrame.encode(unit: 2, pdu: Response.registers([9, 9]).pdu(for: request))

    enum Feeding: CaseIterable { case batch, byteByByte }

    private func master() -> RTUFramer {
        var framer = RTUFramer()
        framer.expectReply(to: Self.request, unit: 1, sent: Self.requestFrame)
        return framer
    }

    private func feed(_ framer: inout RTUFramer, _ bytes: [UInt8], _ feeding: Feeding) -> [[UInt8]] {
        switch feeding {
        case .batch: framer.receive(bytes)
        case .byteByByte: bytes.flatMap { framer.receive([$0]) }
        }
    }

    @Test(arguments: Feeding.allCases)
    func aCleanReply(feeding: Feeding) {
        var framer = master()
        #expect(feed(&framer, Self.reply, feeding) == [Self.reply])
        #expect(framer.counters == RTUFramer.Counters(frames: 1))
    }

    @Test(arguments: Feeding.allCases)
    func garbageBeforeAndAfterIsNoise(feeding: Feeding) {
        var framer = master()
        let garbage: [UInt8] = [0xFF, 0x01, 0x00, 0x03, 0x55]
        #expect(feed(&framer, garbage + Self.reply + [0x01, 0x03, 0x05], feeding) == [Self.reply])
        #expect(framer.counters.noiseBytes == garbage.count + 3, "01 03 05 begins neither a reply of 4 data bytes nor our echo")
        #expect(feed(&framer, [0x01, 0x03], feeding).isEmpty)
        #expect(framer.pendingCount == 2, "01 03 may begin one")
        framer.timeout()
        #expect(framer.counters.noiseBytes == garbage.count + 5 && framer.counters.timeouts == 1)
    }

    @Test func aFrameSplitAtEveryPosition() {
        for split in 1..<Self.reply.count {
            var framer = master()
            #expect(framer.receive(Self.reply[..<split]).isEmpty)
            #expect(framer.receive(Self.reply[split...]) == [Self.reply], "split at \(split)")
        }
    }

    @Test(arguments: Feeding.allCases)
    func twoFramesInOneRead(feeding: Feeding) {
        var framer = RTUFramer(servingUnits: [1])
        let second = RTUFrame.encode(unit: 1, pdu: Request.writeSingleRegister(address: 4, value: 9).pdu)
        #expect(feed(&framer, Self.requestFrame + second, feeding) == [Self.requestFrame, second])
        #expect(framer.counters.noiseBytes == 0)
    }

    @Test(arguments: Feeding.allCases)
    func ourOwnEchoIsNotTheReply(feeding: Feeding) {
        var framer = master()
        #expect(feed(&framer, Self.requestFrame + Self.reply, feeding) == [Self.reply])
        #expect(framer.counters.echoes == 1 && framer.lineEchoes)
    }

    @Test func aWriteOnAnEchoingLineTakesTheSecondCopy() {
        var framer = master()
        _ = framer.receive(Self.requestFrame + Self.reply)
        let write = Request.writeSingleRegister(address: 1, value: 3)
        let frame = RTUFrame.encode(unit: 1, pdu: write.pdu)
        framer.expectReply(to: write, unit: 1, sent: frame)
        #expect(framer.receive(frame).isEmpty, "the first copy is our echo")
        #expect(framer.receive(frame) == [frame])
        #expect(framer.counters.echoes == 2)
    }

    @Test(arguments: Feeding.allCases)
    func otherSlavesRepliesAreNotOurs(feeding: Feeding) {
        var framer = master()
        #expect(feed(&framer, Self.otherSlavesReply + Self.reply, feeding) == [Self.reply])
        #expect(framer.counters.noiseBytes == Self.otherSlavesReply.count)
    }

    @Test func noBitFlipIsEverDelivered() {
        for bit in 0..<(Self.reply.count * 8) {
            var flipped = Self.reply
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            var framer = master()
            #expect(framer.receive(flipped).isEmpty, "bit \(bit)")
            framer.timeout()
            #expect(framer.counters.frames == 0)
        }
    }

    @Test func aFlippedFrameDoesNotHideTheGoodOneAfterIt() {
        var corrupted = Self.reply
        corrupted[4] ^= 0x10
        var framer = master()
        #expect(framer.receive(corrupted + Self.reply) == [Self.reply])
        #expect(framer.counters.crcErrors == 1)
    }

    @Test(arguments: Feeding.allCases)
    func aTruncatedFrameTimesOut(feeding: Feeding) {
        var framer = master()
        #expect(feed(&framer, Array(Self.reply.dropLast(3)), feeding).isEmpty)
        #expect(framer.pendingCount == Self.reply.count - 3)
        framer.timeout()
        #expect(framer.counters.timeouts == 1 && framer.pendingCount == 0)
    }

    @Test(arguments: Feeding.allCases)
    func exceptionRepliesAreFrames(feeding: Feeding) {
        var framer = master()
        let exception = RTUFrame.encode(unit: 1, pdu: [0x83, 0x02])
        #expect(feed(&framer, exception, feeding) == [exception])
    }

    @Test(arguments: Feeding.allCases)
    func aSlaveTakesItsUnitsAndBroadcastsOnly(feeding: Feeding) {
        var framer = RTUFramer(servingUnits: [1, 3])
        let forTwo = RTUFrame.encode(unit: 2, pdu: Self.request.pdu)
        let forThree = RTUFrame.encode(unit: 3, pdu: Request.writeMultipleRegisters(address: 0, values: [1, 2, 3]).pdu)
        let broadcast = RTUFrame.encode(unit: 0, pdu: Request.writeMultipleCoils(address: 0, values: [true, false, true]).pdu)
        #expect(feed(&framer, forTwo + forThree + Self.otherSlavesReply + broadcast, feeding) == [forThree, broadcast])
    }

    @Test(arguments: Feeding.allCases)
    func countedRepliesForIdentificationAndServerID(feeding: Feeding) {
        let identify = Request.readDeviceIdentification(category: 1, objectID: 0)
        let identity = DeviceIdentification(category: 1, conformity: 0x81, objects: [.init(id: 0, value: Array("Acme".utf8)), .init(id: 1, value: [])])
        let reply = RTUFrame.encode(unit: 1, pdu: Response.deviceIdentification(identity).pdu(for: identify))
        var framer = RTUFramer()
        framer.expectReply(to: identify, unit: 1, sent: RTUFrame.encode(unit: 1, pdu: identify.pdu))
        #expect(feed(&framer, [0x00] + reply, feeding) == [reply])
        let report = RTUFrame.encode(unit: 1, pdu: Response.serverID(id: [1, 2, 3], running: true).pdu(for: .reportServerID))
        framer.expectReply(to: .reportServerID, unit: 1, sent: RTUFrame.encode(unit: 1, pdu: Request.reportServerID.pdu))
        #expect(feed(&framer, report, feeding) == [report])
    }

    /// Frames buried at random in random bytes, cut into random reads: every
    /// frame comes out, and nothing else.
    @Test func randomNoiseAndRandomReads() {
        var random = NoiseSource(seed: 0xF1E1D)
        for round in 0..<200 {
            var framer = RTUFramer(servingUnits: [7])
            var stream: [UInt8] = []
            var expected: [[UInt8]] = []
            for _ in 0..<5 {
                stream += (0..<random.below(40)).map { _ in random.byte() }
                let frame = RTUFrame.encode(unit: 7, pdu: Request.writeMultipleRegisters(address: UInt16(random.below(100)), values: [UInt16(random.below(999))]).pdu)
                stream += frame
                expected.append(frame)
            }
            var received: [[UInt8]] = []
            var index = 0
            while index < stream.count {
                let length = 1 + random.below(16)
                received += framer.receive(stream[index..<min(stream.count, index + length)])
                index += length
            }
            // Random bytes can, once in a great while, form a valid frame of their own; none may be lost.
            #expect(expected.allSatisfy { received.contains($0) }, "round \(round)")
            #expect(received.count - expected.count <= 0, "round \(round): \(received.count) frames for \(expected.count)")
        }
    }

    static let unknownFunction = RTUFrame.encode(unit: 1, pdu: [0x44, 0x00, 0x01])

    @Test func aFrameOfAnUnknownFunctionEndsAtSilence() {
        var framer = RTUFramer(servingUnits: [1])
        #expect(framer.receive(Self.unknownFunction).isEmpty)
        #expect(framer.silence() == Self.unknownFunction)
        #expect(framer.silence() == nil)
    }

    @Test func anUnknownFunctionSplitByAGapIsNotLost() {
        var framer = RTUFramer(servingUnits: [1])
        #expect(framer.receive(Self.unknownFunction.prefix(2)).isEmpty)
        #expect(framer.silence() == nil)
        #expect(framer.receive(Self.unknownFunction.dropFirst(2)).isEmpty)
        #expect(framer.silence() == Self.unknownFunction)
    }

    @Test func anUnknownFunctionAfterNoiseAndSilenceIsFound() {
        var framer = RTUFramer(servingUnits: [1])
        #expect(framer.receive([0xFF, 0x13, 0x37]).isEmpty)
        #expect(framer.silence() == nil)
        #expect(framer.receive(Self.unknownFunction).isEmpty)
        #expect(framer.silence() == Self.unknownFunction)
        #expect(framer.counters.noiseBytes == 3 && framer.counters.frames == 1)
    }

    @Test func anUnknownFunctionForAnotherUnitIsNotTaken() {
        var framer = RTUFramer(servingUnits: [2])
        #expect(framer.receive(Self.unknownFunction).isEmpty)
        #expect(framer.silence() == nil)
    }
}

struct NoiseSource {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}

/// A master's framer keeps the grammar of each request's replies, by the
/// request frame: the same request again, and more requests than it keeps
/// grammars for, are framed as the first time was; another slave's reply
/// and an exception are told apart as ever.
@Suite(.ownThreads) struct ReplyGrammarCacheTests {
    private func transaction(_ framer: inout RTUFramer, unit: UInt8, address: UInt16) -> [[UInt8]] {
        let request = Request.readHoldingRegisters(address: address, count: 3)
        framer.expectReply(to: request, unit: unit, sent: RTUFrame.encode(unit: unit, pdu: request.pdu))
        let other = RTUFrame.encode(unit: unit &+ 1, pdu: Response.registers([7, 7, 7]).pdu(for: request))
        let reply = RTUFrame.encode(unit: unit, pdu: Response.registers([address, 1, 2]).pdu(for: request))
        return framer.receive([0xFF] + other + reply)
    }

    @Test func repliesAreFramedAlikePastTheGrammarsKept() {
        var framer = RTUFramer()
        let count = RTUFramer.replyGrammarLimit + 100
        var framed = 0
        for round in 0..<2 {
            for index in 0..<count {
                let unit = UInt8(1 + index % 200), address = UInt16(index)
                let expected = RTUFrame.encode(unit: unit, pdu: Response.registers([address, 1, 2]).pdu(for: .readHoldingRegisters(address: address, count: 3)))
                if transaction(&framer, unit: unit, address: address) == [expected] { framed += 1 } else { Issue.record("round \(round), request \(index)") }
            }
        }
        #expect(framed == 2 * count)
        #expect(framer.counters.frames == 2 * count && framer.counters.crcErrors == 0)
    }

    @Test func anExceptionIsFramedWhenTheGrammarWasKept() {
        var framer = RTUFramer()
        _ = transaction(&framer, unit: 5, address: 9)
        let request = Request.readHoldingRegisters(address: 9, count: 3)
        framer.expectReply(to: request, unit: 5, sent: RTUFrame.encode(unit: 5, pdu: request.pdu))
        let exception = RTUFrame.encode(unit: 5, pdu: [0x83, 0x02])
        #expect(framer.receive(exception) == [exception])
    }

    /// Few pairs are kept in a list, many in a table: the same answers either way.
    @Test func aPairTableAnswersAlikeSmallOrLarge() {
        let few: [UInt16: UInt8] = [0x0103: 1, 0x0183: 2, 0x0203: 4]
        var many = few
        for unit in UInt16(10)..<20 { many[unit << 8 | 0x10] = 8 }
        let small = PairTable(few), large = PairTable(many)
        for unit in UInt8(0)..<30 {
            for function: UInt8 in [0x03, 0x83, 0x10, 0x04] {
                let key = UInt16(unit) << 8 | UInt16(function)
                #expect(small.machines(unit, function) == few[key] ?? 0)
                #expect(large.machines(unit, function) == many[key] ?? 0)
            }
        }
    }
}
