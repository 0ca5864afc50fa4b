/// MQTT's control packets (3.1.1 and 5.0) as values: what the codec reads
/// and writes, with nothing of sockets or sessions in them.
public enum MQTTVersion: UInt8, Sendable, Hashable {
    case v311 = 4
    case v5 = 5
}

public enum QoS: UInt8, Sendable, Hashable, Comparable, CaseIterable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    public static func < (lhs: QoS, rhs: QoS) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A packet that breaks the protocol: the connection it came on is closed.
public struct MQTTError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "MQTT: \(reason)" }
}

/// The message the broker publishes for a client that goes without a DISCONNECT.
public struct Will: Sendable, Hashable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: QoS
    public var retain: Bool
    public var properties: [MQTTProperty]

    public init(topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false, properties: [MQTTProperty] = []) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}

public struct Connect: Sendable, Hashable {
    public var version: MQTTVersion
    public var clientID: String
    /// 3.1.1's clean session; 5.0's clean start.
    public var cleanStart: Bool
    /// Seconds; 0 turns keepalive off.
    public var keepAlive: UInt16
    public var will: Will?
    public var username: String?
    public var password: [UInt8]?
    public var properties: [MQTTProperty]

    public init(version: MQTTVersion = .v311, clientID: String, cleanStart: Bool = true, keepAlive: UInt16 = 60, will: Will? = nil,
                username: String? = nil, password: [UInt8]? = nil, properties: [MQTTProperty] = []) {
        self.version = version
        self.clientID = clientID
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.will = will
        self.username = username
        self.password = password
        self.properties = properties
    }
}

public struct ConnAck: Sendable, Hashable {
    public var sessionPresent: Bool
    /// 3.1.1's return code (0 accepted, 1–5 refused) or 5.0's reason code (0 success, ≥ 0x80 refused).
    public var code: UInt8
    public var properties: [MQTTProperty]

    public init(sessionPresent: Bool = false, code: UInt8 = 0, properties: [MQTTProperty] = []) {
        self.sessionPresent = sessionPresent
        self.code = code
        self.properties = properties
    }
}

public struct Publish: Sendable, Hashable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: QoS
    public var retain: Bool
    public var dup: Bool
    /// Present exactly when `qos` is above 0.
    public var packetID: UInt16?
    public var properties: [MQTTProperty]

    public init(topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false, dup: Bool = false, packetID: UInt16? = nil,
                properties: [MQTTProperty] = []) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packetID = packetID
        self.properties = properties
    }
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP: a packet id, and in 5.0 a reason code.
public struct Acknowledgement: Sendable, Hashable {
    public enum Kind: UInt8, Sendable, Hashable {
        case puback = 4, pubrec = 5, pubrel = 6, pubcomp = 7
    }

    public var kind: Kind
    public var packetID: UInt16
    public var reasonCode: UInt8
    public var properties: [MQTTProperty]

    public init(_ kind: Kind, packetID: UInt16, reasonCode: UInt8 = 0, properties: [MQTTProperty] = []) {
        self.kind = kind
        self.packetID = packetID
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

public struct Subscription: Sendable, Hashable {
    public var filter: String
    public var qos: QoS
    /// 5.0's subscription options beyond the QoS (no local, retain as published, retain handling), as their bits.
    public var options: UInt8

    public init(_ filter: String, qos: QoS = .atMostOnce, options: UInt8 = 0) {
        self.filter = filter
        self.qos = qos
        self.options = options
    }
}

public struct Subscribe: Sendable, Hashable {
    public var packetID: UInt16
    public var subscriptions: [Subscription]
    public var properties: [MQTTProperty]

    public init(packetID: UInt16, subscriptions: [Subscription], properties: [MQTTProperty] = []) {
        self.packetID = packetID
        self.subscriptions = subscriptions
        self.properties = properties
    }
}

/// SUBACK and UNSUBACK: a code per filter (granted QoS, or ≥ 0x80 refused).
public struct SubscriptionAck: Sendable, Hashable {
    public var packetID: UInt16
    public var codes: [UInt8]
    public var properties: [MQTTProperty]

    public init(packetID: UInt16, codes: [UInt8], properties: [MQTTProperty] = []) {
        self.packetID = packetID
        self.codes = codes
        self.properties = properties
    }
}

public struct Unsubscribe: Sendable, Hashable {
    public var packetID: UInt16
    public var filters: [String]
    public var properties: [MQTTProperty]

    public init(packetID: UInt16, filters: [String], properties: [MQTTProperty] = []) {
        self.packetID = packetID
        self.filters = filters
        self.properties = properties
    }
}

/// DISCONNECT, and 5.0's AUTH: a reason code and properties (none in 3.1.1).
public struct ReasonPacket: Sendable, Hashable {
    public var reasonCode: UInt8
    public var properties: [MQTTProperty]

    public init(reasonCode: UInt8 = 0, properties: [MQTTProperty] = []) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

public enum MQTTPacket: Sendable, Hashable {
    case connect(Connect)
    case connack(ConnAck)
    case publish(Publish)
    case acknowledgement(Acknowledgement)
    case subscribe(Subscribe)
    case suback(SubscriptionAck)
    case unsubscribe(Unsubscribe)
    case unsuback(SubscriptionAck)
    case pingreq
    case pingresp
    case disconnect(ReasonPacket)
    case auth(ReasonPacket)
}
