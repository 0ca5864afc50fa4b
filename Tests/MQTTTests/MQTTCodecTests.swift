import NIOCore
import Testing
@testable import MQTT
import TestSupport

/// The codec against the byte layouts of the MQTT 3.1.1 and 5.0 specs, round
/// trips of every packet, and each kind of malformed packet named.
@Suite(.ownThreads) struct MQTTCodecTests {
    private func bytes(_ packet: MQTTPacket, _ version: MQTTVersion) -> [UInt8] {
        var buffer = ByteBuffer()
        MQTTCodec.encode(packet, version: version, into: &buffer)
        return buffer.readBytes(length: buffer.readableBytes)!
    }

    private func decode(_ bytes: [UInt8], _ version: MQTTVersion, maximumSize: Int = MQTTCodec.maximumRemainingLength) throws(MQTTError) -> MQTTPacket? {
        var buffer = ByteBuffer(bytes: bytes)
        return try MQTTCodec.decode(from: &buffer, version: version, maximumSize: maximumSize)
    }

    @Test func aConnectIsLaidOutAsTheSpecSays() {
        // 3.1.1 section 3.1: "MQTT", level 4, clean session, keepalive 60, client id "abc".
        #expect(bytes(.connect(Connect(clientID: "abc", keepAlive: 60)), .v311)
                == [0x10, 15, 0, 4] + Array("MQTT".utf8) + [4, 0x02, 0, 60, 0, 3] + Array("abc".utf8))
        // 5.0: the same with an empty property list, and a will with its own properties, user name and password.
        let will = Will(topic: "w", payload: [9], qos: .atLeastOnce, retain: true)
        let connect = Connect(version: .v5, clientID: "c", keepAlive: 10, will: will, username: "u", password: [7])
        #expect(bytes(.connect(connect), .v5) == [0x10, 27, 0, 4] + Array("MQTT".utf8)
                + [5, 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02, 0, 10, 0, 0, 1, 0x63, 0, 0, 1, 0x77, 0, 1, 9, 0, 1, 0x75, 0, 1, 7])
    }

    @Test func remainingLengthsAtTheSpecsBoundaries() {
        // 3.1.1 table 2.4: 1 to 4 bytes.
        for (length, encoded) in [(0, [0x00]), (127, [0x7F]), (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01]),
                                  (2_097_151, [0xFF, 0xFF, 0x7F]), (2_097_152, [0x80, 0x80, 0x80, 0x01]), (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F])] {
            var buffer = ByteBuffer()
            buffer.writeVariable(UInt32(length))
            #expect(buffer.readBytes(length: buffer.readableBytes) == encoded.map { UInt8($0) }, "\(length)")
        }
    }

    @Test(arguments: [MQTTVersion.v311, .v5]) func everyPacketComesBackAsItWent(version: MQTTVersion) throws {
        let v5 = version == .v5
        let properties: [MQTTProperty] = v5 ? [.userProperty("site", "boiler-house"), .messageExpiryInterval(30), .contentType("json")] : []
        let packets: [MQTTPacket] = [
            .connect(Connect(version: version, clientID: "fieldgw-1", cleanStart: false, keepAlive: 30,
                             will: Will(topic: "spBv1.0/g/NDEATH/e", payload: [1, 2, 3], qos: .atLeastOnce, properties: properties),
                             username: "plant", password: Array("secret".utf8), properties: v5 ? [.sessionExpiryInterval(3600)] : [])),
            .connack(ConnAck(sessionPresent: true, code: 0, properties: v5 ? [.receiveMaximum(20), .reasonString("ok")] : [])),
            .publish(Publish(topic: "a/b", payload: Array("hello".utf8))),
            .publish(Publish(topic: "a/b", payload: [], qos: .atLeastOnce, retain: true, dup: true, packetID: 7, properties: properties)),
            .acknowledgement(Acknowledgement(.puback, packetID: 7)),
            .acknowledgement(Acknowledgement(.pubrel, packetID: 8, reasonCode: v5 ? 0x92 : 0, properties: v5 ? [.reasonString("gone")] : [])),
            .subscribe(Subscribe(packetID: 9, subscriptions: [Subscription("spBv1.0/#", qos: .atLeastOnce), Subscription("x/+/y")])),
            .suback(SubscriptionAck(packetID: 9, codes: [1, 0x80])),
            .unsubscribe(Unsubscribe(packetID: 10, filters: ["x/+/y"])),
            .unsuback(SubscriptionAck(packetID: 10, codes: v5 ? [0, 0x11] : [])),
            .pingreq, .pingresp,
            .disconnect(ReasonPacket(reasonCode: v5 ? 0x04 : 0)),
        ] + (v5 ? [MQTTPacket.auth(ReasonPacket(reasonCode: 0x18, properties: [MQTTProperty(id: 0x15, value: .string("SCRAM"))]))] : [])
        var stream = ByteBuffer()
        for packet in packets { MQTTCodec.encode(packet, version: version, into: &stream) }
        var decoded: [MQTTPacket] = []
        while let packet = try MQTTCodec.decode(from: &stream, version: version) { decoded.append(packet) }
        #expect(decoded == packets)
        #expect(stream.readableBytes == 0)
    }

    @Test func aPacketNotYetWholeIsLeftWhereItIs() throws {
        let whole = bytes(.publish(Publish(topic: "t", payload: Array(repeating: 1, count: 300))), .v311)
        for cut in [1, 2, 3, whole.count - 1] {
            var buffer = ByteBuffer(bytes: whole[0..<cut])
            #expect(try MQTTCodec.decode(from: &buffer, version: .v311) == nil)
            #expect(buffer.readableBytes == cut, "nothing consumed")
        }
    }

    @Test(arguments: [
        ([0x30, 0x80, 0x80, 0x80, 0x80, 0x01], "a variable byte integer longer than four bytes"),
        ([0x36, 0x05, 0, 1, 0x61, 0, 1], "a PUBLISH with QoS 3"),
        ([0x38, 0x03, 0, 1, 0x61], "a QoS 0 PUBLISH marked DUP"),
        ([0x30, 0x03, 0, 1, 0x2B], "a PUBLISH to \"+\": wildcards are for filters"),
        ([0x32, 0x05, 0, 1, 0x61, 0, 0], "packet id 0"),
        ([0x80, 0x06, 0, 1, 0, 1, 0x61, 0], "packet type 8 with flags 0, not 2"),
        ([0x30, 0x04, 0, 2, 0xC3, 0x28], "topic is not well-formed UTF-8"),
        ([0x30, 0x03, 0, 1, 0x00], "topic is not well-formed UTF-8"),
        ([0x30, 0x05, 0, 9, 0x61, 0x62, 0x63], "topic of 9 bytes runs past the end of the packet"),
        ([0x20, 0x03, 0, 0, 0], "1 byte too many at the end of a packet of type 2"),
        ([0x20, 0x02, 0x02, 0], "CONNACK flags 2: reserved bits set"),
        ([0xC0, 0x01, 0], "a PINGREQ or PINGRESP with a body"),
        ([0x00, 0x00], "packet type 0 is reserved"),
        ([0xF0, 0x00], "AUTH is MQTT 5.0's, not 3.1.1's"),
        ([0x90, 0x02, 0, 1], "a SUBACK with no return codes"),
        ([0xB0, 0x03, 0, 2, 0x30], "a 3.1.1 UNSUBACK of 3 bytes, not 2"),
    ] as [([UInt8], String)])
    func aMalformedPacketIsNamed(bytes: [UInt8], reason: String) {
        let error = #expect(throws: MQTTError.self) { try decode(bytes, .v311) }
        #expect(error?.reason.contains(reason) == true, "\(error?.reason ?? "no error")")
    }

    @Test func malformedPropertiesAreNamed() {
        // A CONNACK carrying property 0x7F (undefined), then one whose length runs past the packet.
        let undefined = #expect(throws: MQTTError.self) { try decode([0x20, 0x05, 0, 0, 2, 0x7F, 0], .v5) }
        #expect(undefined?.reason == "property 127 is not one MQTT 5.0 defines")
        let overrun = #expect(throws: MQTTError.self) { try decode([0x20, 0x04, 0, 0, 9, 0x01], .v5) }
        #expect(overrun?.reason == "properties of 9 bytes run past the end of the packet")
        let big = #expect(throws: MQTTError.self) { try decode([0x30, 0xFF, 0x7F], .v311, maximumSize: 1000) }
        #expect(big?.reason == "a packet of 16383 bytes, above the 1000 allowed")
    }
}
