import Foundation
import Testing
@testable import EtherNetIP
import TestSupport

@Suite(.ownThreads) struct LogixServicesTests {
    private let router: MessageRouter = {
        var tags = TagTable()
        try! tags.add(definition: "SCADA=INT[1000]")
        try! tags.add(definition: "Temp=REAL")
        try! tags.add(definition: "Count=DINT")
        try! tags.add(definition: "Fixed=INT", readOnly: true)
        return MessageRouter(tags: tags, connections: ConnectionManager(limit: 2))
    }()

    private func call(_ service: UInt8, _ path: [CIPPath.Segment], _ data: [UInt8] = [], limit: Int = 504) -> CIPReply {
        router.handle(CIPRequest(service: service, path: CIPPath(path), data: data).bytes[...], limit: limit, session: 1)
    }

    @Test func aReadTooBigForOneReplyIsPartialThenFragments() throws {
        _ = call(0x4D, [.symbol("SCADA"), .element(999)], [0xC3, 0, 1, 0, 5, 0])
        let first = call(0x4C, [.symbol("SCADA")], [0xE8, 0x03])
        #expect(first.status == .partialTransfer)
        #expect(first.data.count == 2 + 498, "whole INTs that fit in 504 bytes")
        var got = Array(first.data.dropFirst(2))
        while got.count < 2000 {
            var data: [UInt8] = [0xE8, 0x03]
            data.append32(UInt32(got.count))
            let next = call(0x52, [.symbol("SCADA")], data)
            #expect([.success, .partialTransfer].contains(next.status))
            got += next.data.dropFirst(2)
        }
        #expect(got.count == 2000 && got[1998] == 5)
    }

    @Test func errorsAreTheStatusesAControllerGives() {
        #expect(call(0x4C, [.symbol("Nope")], [1, 0]).status == .pathDestinationUnknown)
        #expect(call(0x4C, [.symbol("SCADA"), .element(999)], [2, 0]).status == .elementsPastEnd)
        #expect(call(0x4C, [.symbol("SCADA"), .element(1000)], [1, 0]).status == .pathDestinationUnknown)
        #expect(call(0x4D, [.symbol("Temp")], [0xC4, 0, 1, 0, 0, 0, 0, 0]).status == .typeMismatch)
        #expect(call(0x4D, [.symbol("Count")], [0xC4, 0, 1, 0, 1, 2]).status == .notEnoughData)
        #expect(call(0x53, [.symbol("Count")], [0xC4, 0, 1, 0, 2, 0, 0, 0, 1, 2, 3]).status == .tooMuchData, "3 bytes at offset 2 of 4")
        #expect(call(0x4D, [.symbol("Count")], [0xC4, 0, 1, 0, 1, 2, 3, 4, 5]).status == .success, "pycomm3 sends more than it means")
        #expect(call(0x4C, [.symbol("Count")], [1, 0]).data == [0xC4, 0, 1, 2, 3, 4])
        var offset: [UInt8] = [0xE8, 0x03]
        offset.append32(2001)
        #expect(call(0x52, [.symbol("SCADA")], offset).status == .offsetPastEnd)
        #expect(call(0x99, [.symbol("Count")]).status == .serviceNotSupported)
        #expect(router.handle([0x4C, 6, 0x91, 5, 0x43, 0x6F][...], limit: 504, session: 1).status == .pathSizeInvalid, "6 words of path, 2 there")
        #expect(router.handle([0x4C, 1, 0x80, 0, 1, 0][...], limit: 504, session: 1).status == .pathSegmentError, "no such segment type")
        #expect(call(0x4C, [.symbol("Count"), .element(0)], [1, 0]).status == .pathSegmentError, "an element of a single value")
        #expect(call(0x01, [.classID(0x77), .instance(1)]).status == .pathDestinationUnknown)
    }

    @Test func aReadOnlyTagRefusesWritesAndSaysSoInTheTagList() {
        #expect(call(0x4D, [.symbol("Fixed")], [0xC3, 0, 1, 0, 1, 0]).status == .privilegeViolation)
        #expect(call(0x4E, [.symbol("Fixed")], [2, 0, 1, 0, 0xFF, 0xFF]).status == .privilegeViolation)
        // Attributes 10 (external access) then 1 (name), in the order asked, from instance 4.
        let list = call(0x55, [.classID(0x6B), .instance(4)], [2, 0, 10, 0, 1, 0])
        #expect(list.status == .success)
        #expect(list.data == [4, 0, 0, 0, 2, 5, 0] + Array("Fixed".utf8))
    }

    @Test func readModifyWriteTakesPycomm3sLongAndMask() {
        _ = call(0x4D, [.symbol("Count")], [0xC4, 0, 1, 0, 0xF0, 0, 0, 0])
        // mask size 4, OR sets bit 0, AND (8 bytes, as pycomm3 sends) clears bit 4.
        let reply = call(0x4E, [.symbol("Count")], [4, 0, 1, 0, 0, 0, 0xEF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(reply.status == .success)
        #expect(call(0x4C, [.symbol("Count")], [1, 0]).data == [0xC4, 0, 0xE1, 0, 0, 0])
    }

    /// Found by fuzzing: each embedded read used to be given the whole limit,
    /// so big reads made one reply of 1.5 KB in a 504-byte message. Now each
    /// takes the room those before it left: a big read is partial with what
    /// fits, and one after it that cannot fit is 0x11, reply data too large.
    @Test func aMultipleServicePacketReplyFitsTheLimit() throws {
        let read = CIPRequest(service: 0x4C, path: CIPPath([.symbol("SCADA")]), data: [0xFA, 0]).bytes
        let count = CIPRequest(service: 0x4C, path: CIPPath([.symbol("Count")]), data: [1, 0]).bytes
        let reply = call(0x0A, [.classID(2), .instance(1)], MultipleServicePacket.pack([count, read, read]))
        #expect(reply.bytes.count <= 504, "\(reply.bytes.count) bytes")
        let parts = try MultipleServicePacket.unpack(reply.data[...]).map { try CIPReply(parsing: $0) }
        #expect(parts.map(\.status) == [.success, .partialTransfer, .replyTooLarge], "\(parts.map(\.status))")
        #expect(parts[0].data == [0xC4, 0, 0, 0, 0, 0])
        #expect(reply.status == .embeddedServiceError)
    }

    @Test func aMultipleServicePacketSaysWhenOneFailed() throws {
        let good = CIPRequest(service: 0x4C, path: CIPPath([.symbol("Count")]), data: [1, 0]).bytes
        let bad = CIPRequest(service: 0x4C, path: CIPPath([.symbol("Nope")]), data: [1, 0]).bytes
        var data: [UInt8] = []
        data.append16(2)
        data.append16(6)
        data.append16(UInt16(6 + good.count))
        let reply = call(0x0A, [.classID(2), .instance(1)], data + good + bad)
        #expect(reply.status == .embeddedServiceError)
        var reader = WireReader(reply.data)
        #expect(try reader.u16() == 2)
        #expect(try reader.u16() == 6)
        let second = Int(try reader.u16())
        #expect(try CIPReply(parsing: reply.data[second...]).status == .pathDestinationUnknown)
        #expect(try CIPReply(parsing: reply.data[6..<second]).data == [0xC4, 0, 0, 0, 0, 0])
    }

    private func forwardOpen(serial: UInt16) -> [UInt8] {
        var data: [UInt8] = [0x0A, 0x0E]
        data.append32(0)
        data.append32(0xABCD)
        data.append16(serial)
        data.append16(0x1337)
        data.append32(42)
        data += [0, 0, 0, 0]
        data.append32(2_000_000)
        data.append16(0x43F4)
        data.append32(2_000_000)
        data.append16(0x43F4)
        data += [0xA3, 3, 0x01, 0x00, 0x20, 0x02, 0x24, 0x01]
        return data
    }

    @Test func forwardOpenRefusesDuplicatesAndTooManyAndCloseFreesOne() throws {
        let cm: [CIPPath.Segment] = [.classID(6), .instance(1)]
        let opened = call(0x54, cm, forwardOpen(serial: 1))
        #expect(opened.status == .success)
        #expect(Array(opened.data[4..<8]) == [0xCD, 0xAB, 0, 0], "the client's T->O id echoed")
        #expect(call(0x54, cm, forwardOpen(serial: 1)).status == .connectionFailure(0x0100))
        #expect(call(0x54, cm, forwardOpen(serial: 2)).status == .success)
        #expect(call(0x54, cm, forwardOpen(serial: 3)).status == .connectionFailure(0x0113))
        var close: [UInt8] = [0x0A, 0x0E]
        close.append16(1)
        close.append16(0x1337)
        close.append32(42)
        close += [3, 0, 0x01, 0x00, 0x20, 0x02, 0x24, 0x01]
        #expect(call(0x4E, cm, close).status == .success)
        #expect(call(0x4E, cm, close).status == .connectionFailure(0x0107))
        #expect(call(0x54, cm, forwardOpen(serial: 3)).status == .success)
    }
}

@Suite(.ownThreads) struct ConnectionManagerTests {
    /// A Forward Open with T->O RPI `rpi` µs and timeout multiplier 0 (x4).
    private func open(_ manager: ConnectionManager, serial: UInt16, rpi: UInt32, session: UInt32) throws -> UInt32 {
        var data: [UInt8] = [0x0A, 0x0E]
        data.append32(0)
        data.append32(0x77)
        data.append16(serial)
        data.append16(1)
        data.append32(9)
        data += [0, 0, 0, 0]
        data.append32(rpi)
        data.append16(0x43F4)
        data.append32(rpi)
        data.append16(0x43F4)
        data += [0xA3, 2, 0x20, 0x02, 0x24, 0x01]
        let reply = try manager.open(CIPRequest(service: 0x54, path: CIPPath([.classID(6), .instance(1)]), data: data), session: session,
                                     peer: nil, io: nil, identity: Identity())
        var reader = WireReader(reply.data)
        return try reader.u32()
    }

    @Test func anIdleConnectionExpiresAndAUsedOneDoesNot() throws {
        let manager = ConnectionManager()
        let brief = try open(manager, serial: 1, rpi: 5_000, session: 1)      // 20 ms
        let lasting = try open(manager, serial: 2, rpi: 5_000_000, session: 1) // 20 s
        #expect(manager.use(brief, session: 1)?.clientID == 0x77)
        #expect(manager.use(brief, session: 2) == nil, "another session cannot use it")
        Thread.sleep(forTimeInterval: 0.1)
        #expect(manager.use(brief, session: 1) == nil, "idle past RPI x 4")
        #expect(manager.use(lasting, session: 1) != nil)
        #expect(manager.count == 1)
        _ = try open(manager, serial: 1, rpi: 5_000, session: 1)
        manager.closeAll(session: 1)
        #expect(manager.count == 0, "a session's connections end with it")
    }
}

/// Requests damaged every way a wire can damage them: each gets a reply
/// (an error status, mostly) and the server stays whole.
@Suite(.ownThreads) struct DamagedRequestTests {
    @Test func mutatedAndTruncatedRequestsAreAnsweredNeverTrapped() throws {
        var tags = TagTable()
        try tags.addStructure(definition: "Motor=Speed:REAL,Run:BOOL,Counts:DINT[4],Name:STRING")
        for definition in ["SCADA=INT[100]", "Grid=DINT[4,8]", "Pump=Motor", "Pumps=Motor[3]", "Label=STRING", "Program:Main.X=DINT"] {
            try tags.add(definition: definition)
        }
        let router = MessageRouter(tags: tags)
        let seeds: [[UInt8]] = [
            CIPRequest(service: 0x4C, path: CIPPath([.symbol("SCADA"), .element(3)]), data: [5, 0]).bytes,
            CIPRequest(service: 0x52, path: CIPPath([.symbol("Pumps"), .element(1), .symbol("Counts")]), data: [4, 0, 4, 0, 0, 0]).bytes,
            CIPRequest(service: 0x4D, path: CIPPath([.symbol("Grid"), .element(1), .element(2)]), data: [0xC4, 0, 1, 0, 1, 2, 3, 4]).bytes,
            CIPRequest(service: 0x53, path: CIPPath([.symbol("Label")]), data: [0xA0, 0x02, 0xCE, 0x0F, 1, 0, 4, 0, 0, 0, 65, 66]).bytes,
            CIPRequest(service: 0x4E, path: CIPPath([.symbol("SCADA")]), data: [2, 0, 1, 0, 0xFF, 0xFF]).bytes,
            CIPRequest(service: 0x55, path: CIPPath([.symbol("Program:Main"), .classID(0x6B), .instance(0)]), data: [2, 0, 1, 0, 2, 0]).bytes,
            CIPRequest(service: 0x4C, path: CIPPath([.classID(0x6C), .instance(0x100)]), data: [0, 0, 0, 0, 100, 0]).bytes,
            CIPRequest(service: 0x0A, path: CIPPath([.classID(2), .instance(1)]), data: [2, 0, 6, 0, 14, 0, 0x4C, 2, 0x91, 2, 0x58, 0x59, 1, 0, 0x0E, 3, 0x20, 1, 0x24, 1, 0x30, 7]).bytes,
            CIPRequest(service: 0x52, path: CIPPath([.classID(6), .instance(1)]), data: [0x0A, 0x0E, 6, 0, 0x4C, 2, 0x91, 1, 0x41, 0, 1, 0, 0x01, 0, 0x01, 0x00]).bytes,
        ]
        var generator = SystemRandomNumberGenerator()
        var unechoed = 0
        for _ in 0..<20_000 {
            let seed = Int.random(in: 0..<seeds.count, using: &generator)
            var bytes = seeds[seed]
            switch Int.random(in: 0..<3, using: &generator) {
            case 0: bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
            case 1: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
            default: bytes += (0..<Int.random(in: 1...8, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            let reply = router.handle(bytes[...], limit: 504, session: 1)
            // An Unconnected Send answers with the embedded request's service.
            if seed != seeds.count - 1, reply.service & 0x7F != (bytes.first ?? 0) & 0x7F { unechoed += 1 }
        }
        #expect(unechoed == 0, "every reply names the service asked for")
        #expect(router.handle(seeds[0][...], limit: 504, session: 1).status == .success, "and still serves")
    }
}
