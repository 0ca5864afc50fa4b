import EtherNetIP
import MQTT

/// One member's value as published: its name, its Logix type (INT, UINT,
/// DINT, UDINT, REAL, BOOL) and its value (scaled, as the web API shows it).
public struct MemberValue: Sendable, Hashable, Codable {
    public var name: String
    public var type: String
    public var value: Double

    public init(name: String, type: String, value: Double) {
        self.name = name
        self.type = type
        self.value = value
    }
}

/// A device's members at one poll: what a birth or a data message carries,
/// and what the spool keeps while the broker is away.
public struct Sample: Sendable, Hashable, Codable {
    public var device: String
    /// Milliseconds since 1970 (UTC), when the poll ended.
    public var at: UInt64
    public var values: [MemberValue]

    public init(device: String, at: UInt64, values: [MemberValue]) {
        self.device = device
        self.at = at
        self.values = values
    }
}

/// One of the node's own metrics (a line up, its transactions).
public struct NodeMetric: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case bool(Bool)
        case count(UInt64)
    }

    public var name: String
    public var value: Value

    public init(name: String, value: Value) {
        self.name = name
        self.value = value
    }
}

/// What a host application asked of the node.
public enum Command: Sendable, Hashable {
    /// Publish every birth again.
    case rebirth
    /// Write members of a device (engineering values, by member name).
    case write(device: String, values: [String: Double])
}

/// A message from the broker that asks something the node cannot do.
public struct CommandError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// How the node's events become MQTT messages, and messages become
/// commands: Sparkplug B (Tahu protobuf) or plain JSON.
protocol Dialect: Sendable {
    /// Whether messages carry Sparkplug's `seq` (0-255 across the node's messages).
    var sequenced: Bool { get }
    var subscriptions: [Subscription] { get }
    /// The last will, with the birth/death sequence number of this connection.
    func will(bdSeq: UInt64) -> Will
    /// The `bdSeq` a will of `will(bdSeq:)` carries.
    func bdSeq(of will: Will) -> UInt64?
    func nodeBirth(bdSeq: UInt64, metrics: [NodeMetric], seq: UInt8, at: UInt64) -> Publish
    func nodeData(metrics: [NodeMetric], seq: UInt8, at: UInt64) -> Publish
    /// Published before a clean disconnect (the will is only the broker's, on a lost connection).
    func nodeDeath(bdSeq: UInt64, at: UInt64) -> Publish
    func deviceBirth(_ sample: Sample, seq: UInt8) -> Publish
    func deviceDeath(device: String, seq: UInt8, at: UInt64) -> Publish
    func deviceData(_ sample: Sample, seq: UInt8, historical: Bool) -> Publish
    /// The command a message carries; nil for a message that is not one for this node.
    func command(_ message: Publish) throws(CommandError) -> Command?
}
