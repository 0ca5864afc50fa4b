import Testing
@testable import Modbus
import TestSupport

/// Modbus ASCII frames found through noise, their LRC checked, and a frame
/// whose characters stop for longer than the inter-character timeout dropped.
@Suite(.ownThreads) struct ASCIIFramerTests {
    static let pdu: [UInt8] = [3, 2, 0, 42]
    static let frame = ModbusASCII.encode(unit: 7, pdu: pdu)

    @Test func aFrameIsFoundThroughNoiseFedInAnyPieces() {
        let stream = Array("garbage\r\n".utf8) + Self.frame + [0x00, 0xFF, 0x3A] + Self.frame
        for piece in [1, 3, stream.count] {
            var framer = ASCIIFramer()
            var found: [[UInt8]] = []
            var start = 0
            while start < stream.count {
                found += framer.receive(stream[start..<min(stream.count, start + piece)]).map { [$0.unit] + $0.pdu }
                start += piece
            }
            #expect(found == [[7] + Self.pdu, [7] + Self.pdu], "in pieces of \(piece)")
            // The garbage, two bytes, and a ':' that began no frame before the second one.
            #expect(framer.counters.frames == 2 && framer.counters.noiseBytes == 9 + 3, "\(framer.counters)")
        }
    }

    @Test func aWrongLRCIsACRCErrorAndNotAFrame() {
        var damaged = Self.frame
        damaged[damaged.count - 3] = damaged[damaged.count - 3] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        var framer = ASCIIFramer()
        #expect(framer.receive(damaged).isEmpty)
        #expect(framer.counters.crcErrors == 1 && framer.counters.frames == 0)
        #expect(framer.receive(Self.frame).count == 1, "the next good frame is found")
    }

    @Test func aFrameThatStallsBeyondTheCharacterTimeoutIsDropped() {
        var framer = ASCIIFramer(characterTimeout: .milliseconds(100))
        let start = ContinuousClock.now
        #expect(framer.receive(Self.frame.prefix(5), at: start).isEmpty)
        #expect(framer.receive(Self.frame.dropFirst(5), at: start + .milliseconds(150)).isEmpty, "the rest alone is no frame")
        #expect(framer.counters.timeouts == 1)
        #expect(framer.receive(Self.frame.prefix(5), at: start + .milliseconds(200)).isEmpty)
        #expect(framer.receive(Self.frame.dropFirst(5), at: start + .milliseconds(250)).count == 1, "within the timeout it is whole")
    }
}
