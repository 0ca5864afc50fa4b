import NIOCore
import Testing
@testable import EtherNetIP
import TestSupport

@Suite(.ownThreads) struct EncapsulationTests {
    /// RegisterSession as pycomm3 sends it (sender context "_pycomm_").
    private let register: [UInt8] = [0x65, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0] + Array("_pycomm_".utf8) + [0, 0, 0, 0, 1, 0, 0, 0]

    @Test func theHeaderIsLittleEndianAndRoundTrips() throws {
        var buffer = ByteBuffer(bytes: register)
        let message = try #require(Encapsulation.message(from: &buffer))
        #expect(message.command == 0x65 && message.data == [1, 0, 0, 0] && message.context == Array("_pycomm_".utf8))
        #expect(message.bytes == register)
    }

    @Test func messagesComeWholeHoweverTheBytesArrive() {
        let stream = register + register
        for split in 0...stream.count {
            var buffer = ByteBuffer(bytes: stream[..<split])
            var got: [Encapsulation] = []
            while let message = Encapsulation.message(from: &buffer) { got.append(message) }
            buffer.writeBytes(stream[split...])
            while let message = Encapsulation.message(from: &buffer) { got.append(message) }
            #expect(got.count == 2 && buffer.readableBytes == 0, "split at \(split)")
        }
    }

    @Test func pathsParseAndWriteAsTheSpecSays() throws {
        let bytes: [UInt8] = [0x91, 5] + Array("SCADA".utf8) + [0, 0x28, 7, 0x29, 0, 0x2C, 0x01, 0x20, 0x6B, 0x25, 0, 0x34, 0x12, 0x01, 0x00]
        let path = try CIPPath(parsing: bytes[...])
        #expect(path.segments == [.symbol("SCADA"), .element(7), .element(300), .classID(0x6B), .instance(0x1234), .port(1, link: [0])])
        #expect(path.bytes == bytes)
        #expect(throws: CIPStatus.notEnoughData) { try CIPPath(parsing: [0x91, 9, 0x41][...]) }
        #expect(throws: CIPStatus.pathSegmentError) { try CIPPath(parsing: [0x80, 0][...]) }
    }

    @Test func aSessionEchoesAnyContextAndRefusesWhatItMust() {
        let session = EncapsulationSession(router: MessageRouter(tags: TagTable()), local: nil)
        var buffer = ByteBuffer(bytes: register)
        let request = Encapsulation.message(from: &buffer)!
        var unregistered = request
        unregistered.command = EncapsulationCommand.sendRRData
        unregistered.data = CommonPacket(items: []).bytes
        guard case .reply(let refused) = session.handle(unregistered) else { Issue.record("no reply"); return }
        #expect(refused.status == EncapsulationStatus.invalidSession)
        guard case .reply(let reply) = session.handle(request) else { Issue.record("no reply"); return }
        #expect(reply.status == 0 && reply.session != 0 && reply.context == request.context && reply.data == [1, 0, 0, 0])
        var version2 = request
        version2.data = [2, 0, 0, 0]
        guard case .reply(let wrong) = EncapsulationSession(router: MessageRouter(tags: TagTable()), local: nil).handle(version2) else { return }
        #expect(wrong.status == EncapsulationStatus.unsupportedProtocol)
        var unknown = request
        unknown.command = 0x99
        guard case .reply(let bad) = session.handle(unknown) else { Issue.record("no reply"); return }
        #expect(bad.status == EncapsulationStatus.invalidCommand)
        #expect({ if case .close = session.handle(Encapsulation(command: EncapsulationCommand.unregisterSession)) { true } else { false } }())
    }
}
