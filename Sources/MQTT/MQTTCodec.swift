import NIOCore

/// Reads and writes MQTT control packets (3.1.1 and 5.0) on `ByteBuffer`s:
/// pure, with no I/O, as the Modbus codec is. Anything that breaks the spec
/// (a reserved flag set, a length past the packet, a string that is not
/// UTF-8, a property 5.0 does not define) is an `MQTTError` naming it.
public enum MQTTCodec {
    /// The largest remaining length four length bytes can say (256 MB).
    public static let maximumRemainingLength = 268_435_455

    public static func encode(_ packet: MQTTPacket, version: MQTTVersion, into out: inout ByteBuffer) {
        var body = ByteBuffer()
        let (type, flags) = writeBody(packet, version: version, into: &body)
        out.writeInteger(type << 4 | flags)
        out.writeVariable(UInt32(body.readableBytes))
        out.writeBuffer(&body)
    }

    /// The next whole packet at the front of `buffer`, which it consumes; nil
    /// (and nothing consumed) until all of it is there. A packet longer than
    /// `maximumSize` is refused before it is read.
    public static func decode(from buffer: inout ByteBuffer, version: MQTTVersion,
                              maximumSize: Int = maximumRemainingLength) throws(MQTTError) -> MQTTPacket? {
        var peek = buffer
        guard let first = peek.readInteger(as: UInt8.self), let length = try peek.readVariableIfWhole() else { return nil }
        guard Int(length) <= maximumSize else { throw MQTTError("a packet of \(length) bytes, above the \(maximumSize) allowed") }
        guard var body = peek.readSlice(length: Int(length)) else { return nil }
        let packet = try read(type: first >> 4, flags: first & 0x0F, body: &body, version: version)
        guard body.readableBytes == 0 else {
            throw MQTTError("\(body.readableBytes) byte\(body.readableBytes == 1 ? "" : "s") too many at the end of a packet of type \(first >> 4)")
        }
        buffer = peek
        return packet
    }
}

// MARK: - Writing

extension MQTTCodec {
    private static func writeBody(_ packet: MQTTPacket, version: MQTTVersion, into body: inout ByteBuffer) -> (UInt8, UInt8) {
        let v5 = version == .v5
        switch packet {
        case .connect(let connect):
            writeConnect(connect, into: &body)
            return (1, 0)
        case .connack(let ack):
            body.writeInteger(UInt8(ack.sessionPresent ? 1 : 0))
            body.writeInteger(ack.code)
            if v5 { body.writeProperties(ack.properties) }
            return (2, 0)
        case .publish(let publish):
            body.writeMQTTString(publish.topic)
            if let id = publish.packetID, publish.qos != .atMostOnce { body.writeInteger(id) }
            if v5 { body.writeProperties(publish.properties) }
            body.writeBytes(publish.payload)
            return (3, (publish.dup ? 0x08 : 0) | publish.qos.rawValue << 1 | (publish.retain ? 1 : 0))
        case .acknowledgement(let ack):
            body.writeInteger(ack.packetID)
            if v5 && (ack.reasonCode != 0 || !ack.properties.isEmpty) {
                body.writeInteger(ack.reasonCode)
                body.writeProperties(ack.properties)
            }
            return (ack.kind.rawValue, ack.kind == .pubrel ? 0x02 : 0)
        case .subscribe(let subscribe):
            body.writeInteger(subscribe.packetID)
            if v5 { body.writeProperties(subscribe.properties) }
            for subscription in subscribe.subscriptions {
                body.writeMQTTString(subscription.filter)
                body.writeInteger(subscription.qos.rawValue | (v5 ? subscription.options & 0x3C : 0))
            }
            return (8, 0x02)
        case .suback(let ack), .unsuback(let ack):
            body.writeInteger(ack.packetID)
            if v5 { body.writeProperties(ack.properties) }
            let isSuback = if case .suback = packet { true } else { false }
            if isSuback || v5 { body.writeBytes(ack.codes) }
            return (isSuback ? 9 : 11, 0)
        case .unsubscribe(let unsubscribe):
            body.writeInteger(unsubscribe.packetID)
            if v5 { body.writeProperties(unsubscribe.properties) }
            for filter in unsubscribe.filters { body.writeMQTTString(filter) }
            return (10, 0x02)
        case .pingreq:
            return (12, 0)
        case .pingresp:
            return (13, 0)
        case .disconnect(let reason), .auth(let reason):
            if v5 && (reason.reasonCode != 0 || !reason.properties.isEmpty) {
                body.writeInteger(reason.reasonCode)
                body.writeProperties(reason.properties)
            }
            let isAuth = if case .auth = packet { true } else { false }
            return (isAuth ? 15 : 14, 0)
        }
    }

    private static func writeConnect(_ connect: Connect, into body: inout ByteBuffer) {
        body.writeMQTTString("MQTT")
        body.writeInteger(connect.version.rawValue)
        var flags: UInt8 = connect.cleanStart ? 0x02 : 0
        if let will = connect.will { flags |= 0x04 | will.qos.rawValue << 3 | (will.retain ? 0x20 : 0) }
        if connect.password != nil { flags |= 0x40 }
        if connect.username != nil { flags |= 0x80 }
        body.writeInteger(flags)
        body.writeInteger(connect.keepAlive)
        if connect.version == .v5 { body.writeProperties(connect.properties) }
        body.writeMQTTString(connect.clientID)
        if let will = connect.will {
            if connect.version == .v5 { body.writeProperties(will.properties) }
            body.writeMQTTString(will.topic)
            body.writeBinary(will.payload)
        }
        if let username = connect.username { body.writeMQTTString(username) }
        if let password = connect.password { body.writeBinary(password) }
    }
}

// MARK: - Reading

extension MQTTCodec {
    private static func read(type: UInt8, flags: UInt8, body: inout ByteBuffer, version: MQTTVersion) throws(MQTTError) -> MQTTPacket {
        let v5 = version == .v5
        let required: UInt8 = [6, 8, 10].contains(type) ? 0x02 : 0
        guard type == 3 || flags == required else { throw MQTTError("packet type \(type) with flags \(flags), not \(required)") }
        switch type {
        case 1: return .connect(try readConnect(&body))
        case 2:
            let acknowledgeFlags = try body.readByte("CONNACK flags")
            guard acknowledgeFlags & 0xFE == 0 else { throw MQTTError("CONNACK flags \(acknowledgeFlags): reserved bits set") }
            let code = try body.readByte("CONNACK code")
            return .connack(ConnAck(sessionPresent: acknowledgeFlags == 1, code: code, properties: v5 ? try body.readProperties() : []))
        case 3: return .publish(try readPublish(flags: flags, body: &body, v5: v5))
        case 4, 5, 6, 7:
            let id = try body.readPacketID()
            var ack = Acknowledgement(Acknowledgement.Kind(rawValue: type)!, packetID: id)
            if v5 && body.readableBytes > 0 {
                ack.reasonCode = try body.readByte("reason code")
                if body.readableBytes > 0 { ack.properties = try body.readProperties() }
            }
            return .acknowledgement(ack)
        case 8: return .subscribe(try readSubscribe(&body, v5: v5))
        case 9, 11:
            let id = try body.readPacketID()
            let properties = v5 ? try body.readProperties() : []
            let codes = body.readBytes(length: body.readableBytes) ?? []
            if type == 9 && codes.isEmpty { throw MQTTError("a SUBACK with no return codes") }
            // 3.1.1's UNSUBACK is the packet id alone (remaining length 2).
            if type == 11 && !v5 && !codes.isEmpty { throw MQTTError("a 3.1.1 UNSUBACK of \(2 + codes.count) bytes, not 2") }
            let ack = SubscriptionAck(packetID: id, codes: codes, properties: properties)
            return type == 9 ? .suback(ack) : .unsuback(ack)
        case 10:
            let id = try body.readPacketID()
            let properties = v5 ? try body.readProperties() : []
            var filters: [String] = []
            while body.readableBytes > 0 { filters.append(try body.readMQTTString("topic filter")) }
            guard !filters.isEmpty else { throw MQTTError("an UNSUBSCRIBE with no topic filters") }
            return .unsubscribe(Unsubscribe(packetID: id, filters: filters, properties: properties))
        case 12, 13:
            guard body.readableBytes == 0 else { throw MQTTError("a PINGREQ or PINGRESP with a body") }
            return type == 12 ? .pingreq : .pingresp
        case 14, 15:
            guard type == 14 || v5 else { throw MQTTError("AUTH is MQTT 5.0's, not 3.1.1's") }
            var reason = ReasonPacket()
            if v5 && body.readableBytes > 0 {
                reason.reasonCode = try body.readByte("reason code")
                if body.readableBytes > 0 { reason.properties = try body.readProperties() }
            }
            return type == 14 ? .disconnect(reason) : .auth(reason)
        default:
            throw MQTTError("packet type \(type) is reserved")
        }
    }

    private static func readPublish(flags: UInt8, body: inout ByteBuffer, v5: Bool) throws(MQTTError) -> Publish {
        guard let qos = QoS(rawValue: flags >> 1 & 0x03) else { throw MQTTError("a PUBLISH with QoS 3") }
        let topic = try body.readMQTTString("topic")
        guard !topic.contains(where: { $0 == "+" || $0 == "#" }) else { throw MQTTError("a PUBLISH to \"\(topic)\": wildcards are for filters") }
        let id = qos == .atMostOnce ? nil : try body.readPacketID()
        if qos == .atMostOnce && flags & 0x08 != 0 { throw MQTTError("a QoS 0 PUBLISH marked DUP") }
        let properties = v5 ? try body.readProperties() : []
        let payload = body.readBytes(length: body.readableBytes) ?? []
        return Publish(topic: topic, payload: payload, qos: qos, retain: flags & 1 != 0, dup: flags & 0x08 != 0, packetID: id, properties: properties)
    }

    private static func readSubscribe(_ body: inout ByteBuffer, v5: Bool) throws(MQTTError) -> Subscribe {
        let id = try body.readPacketID()
        let properties = v5 ? try body.readProperties() : []
        var subscriptions: [Subscription] = []
        while body.readableBytes > 0 {
            let filter = try body.readMQTTString("topic filter")
            let options = try body.readByte("subscription options")
            guard let qos = QoS(rawValue: options & 0x03), options & (v5 ? 0xC0 : 0xFC) == 0 else {
                throw MQTTError("subscription options \(options) for \"\(filter)\"")
            }
            subscriptions.append(Subscription(filter, qos: qos, options: options & 0x3C))
        }
        guard !subscriptions.isEmpty else { throw MQTTError("a SUBSCRIBE with no topic filters") }
        return Subscribe(packetID: id, subscriptions: subscriptions, properties: properties)
    }

    private static func readConnect(_ body: inout ByteBuffer) throws(MQTTError) -> Connect {
        guard try body.readMQTTString("protocol name") == "MQTT" else { throw MQTTError("a CONNECT for another protocol than MQTT") }
        let level = try body.readByte("protocol level")
        guard let version = MQTTVersion(rawValue: level) else { throw MQTTError("protocol level \(level), not 4 (3.1.1) or 5 (5.0)") }
        let flags = try body.readByte("connect flags")
        guard flags & 1 == 0, let willQoS = QoS(rawValue: flags >> 3 & 0x03) else { throw MQTTError("connect flags \(flags)") }
        let v5 = version == .v5
        var connect = Connect(version: version, clientID: "", cleanStart: flags & 0x02 != 0, keepAlive: try body.readUInt16("keepalive"))
        if v5 { connect.properties = try body.readProperties() }
        connect.clientID = try body.readMQTTString("client id")
        if flags & 0x04 != 0 {
            let properties = v5 ? try body.readProperties() : []
            let topic = try body.readMQTTString("will topic")
            connect.will = Will(topic: topic, payload: try body.readBinary("will payload"), qos: willQoS, retain: flags & 0x20 != 0,
                                properties: properties)
        }
        if flags & 0x80 != 0 { connect.username = try body.readMQTTString("user name") }
        if flags & 0x40 != 0 { connect.password = try body.readBinary("password") }
        return connect
    }
}

// MARK: - Fields

extension ByteBuffer {
    /// MQTT's variable byte integer: seven bits a byte, least significant first, at most four bytes.
    mutating func writeVariable(_ value: UInt32) {
        var rest = value
        repeat {
            var byte = UInt8(rest & 0x7F)
            rest >>= 7
            if rest > 0 { byte |= 0x80 }
            writeInteger(byte)
        } while rest > 0
    }

    /// The variable byte integer at the front, if all of it is there.
    mutating func readVariableIfWhole() throws(MQTTError) -> UInt32? {
        var value: UInt32 = 0
        for index in 0..<4 {
            guard let byte = readInteger(as: UInt8.self) else { return nil }
            value |= UInt32(byte & 0x7F) << (7 * index)
            if byte & 0x80 == 0 { return value }
        }
        throw MQTTError("a variable byte integer longer than four bytes")
    }

    mutating func readVariable(_ what: String) throws(MQTTError) -> UInt32 {
        guard let value = try readVariableIfWhole() else { throw MQTTError("\(what) runs past the end of the packet") }
        return value
    }

    mutating func writeMQTTString(_ text: String) {
        writeBinary(Array(text.utf8))
    }

    mutating func writeBinary(_ bytes: [UInt8]) {
        writeInteger(UInt16(bytes.count))
        writeBytes(bytes)
    }

    mutating func readByte(_ what: String) throws(MQTTError) -> UInt8 {
        guard let byte = readInteger(as: UInt8.self) else { throw MQTTError("\(what) runs past the end of the packet") }
        return byte
    }

    mutating func readUInt16(_ what: String) throws(MQTTError) -> UInt16 {
        guard let value = readInteger(as: UInt16.self) else { throw MQTTError("\(what) runs past the end of the packet") }
        return value
    }

    mutating func readPacketID() throws(MQTTError) -> UInt16 {
        let id = try readUInt16("packet id")
        guard id != 0 else { throw MQTTError("packet id 0") }
        return id
    }

    mutating func readBinary(_ what: String) throws(MQTTError) -> [UInt8] {
        let length = try readUInt16(what)
        guard let bytes = readBytes(length: Int(length)) else { throw MQTTError("\(what) of \(length) bytes runs past the end of the packet") }
        return bytes
    }

    /// A UTF-8 string: well formed, with no U+0000 (the spec's rule).
    mutating func readMQTTString(_ what: String) throws(MQTTError) -> String {
        let bytes = try readBinary(what)
        guard let text = String(validating: bytes, as: UTF8.self), !text.unicodeScalars.contains("\0") else {
            throw MQTTError("\(what) is not well-formed UTF-8")
        }
        return text
    }

    mutating func writeProperties(_ properties: [MQTTProperty]) {
        var encoded = ByteBuffer()
        for property in properties {
            encoded.writeVariable(UInt32(property.id))
            switch property.value {
            case .byte(let value): encoded.writeInteger(value)
            case .twoBytes(let value): encoded.writeInteger(value)
            case .fourBytes(let value): encoded.writeInteger(value)
            case .variable(let value): encoded.writeVariable(value)
            case .string(let text): encoded.writeMQTTString(text)
            case .binary(let bytes): encoded.writeBinary(bytes)
            case .pair(let name, let value):
                encoded.writeMQTTString(name)
                encoded.writeMQTTString(value)
            }
        }
        writeVariable(UInt32(encoded.readableBytes))
        writeBuffer(&encoded)
    }

    mutating func readProperties() throws(MQTTError) -> [MQTTProperty] {
        let length = try readVariable("properties length")
        guard var slice = readSlice(length: Int(length)) else { throw MQTTError("properties of \(length) bytes run past the end of the packet") }
        var properties: [MQTTProperty] = []
        while slice.readableBytes > 0 {
            let id = try slice.readVariable("property id")
            guard id < 0x80, let kind = MQTTProperty.kinds[UInt8(id)] else { throw MQTTError("property \(id) is not one MQTT 5.0 defines") }
            properties.append(MQTTProperty(id: UInt8(id), value: try slice.readPropertyValue(kind)))
        }
        return properties
    }

    private mutating func readPropertyValue(_ kind: MQTTProperty.Kind) throws(MQTTError) -> MQTTProperty.Value {
        switch kind {
        case .byte: return .byte(try readByte("property"))
        case .twoBytes: return .twoBytes(try readUInt16("property"))
        case .fourBytes:
            guard let value = readInteger(as: UInt32.self) else { throw MQTTError("property runs past the end of the packet") }
            return .fourBytes(value)
        case .variable: return .variable(try readVariable("property"))
        case .string: return .string(try readMQTTString("property"))
        case .binary: return .binary(try readBinary("property"))
        case .pair: return .pair(try readMQTTString("user property name"), try readMQTTString("user property value"))
        }
    }
}
