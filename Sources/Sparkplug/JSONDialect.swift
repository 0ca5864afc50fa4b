import Foundation
import MQTT

/// The same events as JSON, for users without a Sparkplug host:
///
/// - `fieldgw/EDGE/status` (retained): `{"online": true, "timestamp": MS, "metrics": {...}}`;
///   the will sets it to `{"online": false}`.
/// - `fieldgw/EDGE/DEVICE/birth` (retained): `{"online": true, "timestamp": MS,
///   "members": {"Temp": {"type": "REAL", "value": 21.5}}}`, and `{"online": false, …}` when it goes offline.
/// - `fieldgw/EDGE/DEVICE`: `{"Temp": 21.5, "timestamp": MS}` for each change
///   (`"historical": true` when it was kept through an outage).
/// - Commands: `fieldgw/EDGE/DEVICE/set` with `{"Setpoint": 42}` writes;
///   anything on `fieldgw/EDGE/rebirth` publishes the births again.
struct JSONDialect: Dialect {
    let edgeNode: String

    var sequenced: Bool { false }

    private var root: String { "fieldgw/\(edgeNode)" }

    var subscriptions: [Subscription] { [Subscription("\(root)/+/set"), Subscription("\(root)/rebirth")] }

    func will(bdSeq: UInt64) -> Will {
        Will(topic: "\(root)/status", payload: Array(#"{"online": false}"#.utf8), qos: .atLeastOnce, retain: true)
    }

    func bdSeq(of will: Will) -> UInt64? { nil }

    func nodeBirth(bdSeq: UInt64, metrics: [NodeMetric], seq: UInt8, at: UInt64) -> Publish {
        status(online: true, metrics: metrics, at: at)
    }

    func nodeData(metrics: [NodeMetric], seq: UInt8, at: UInt64) -> Publish {
        status(online: true, metrics: metrics, at: at)
    }

    func nodeDeath(bdSeq: UInt64, at: UInt64) -> Publish {
        status(online: false, metrics: [], at: at)
    }

    private func status(online: Bool, metrics: [NodeMetric], at: UInt64) -> Publish {
        let fields = metrics.map { metric -> (String, String) in
            switch metric.value {
            case .bool(let flag): (metric.name, "\(flag)")
            case .count(let count): (metric.name, "\(count)")
            }
        }
        var object = [("online", "\(online)"), ("timestamp", "\(at)")]
        if online { object.append(("metrics", Self.object(fields))) }
        return Publish(topic: "\(root)/status", payload: Array(Self.object(object).utf8), retain: true)
    }

    func deviceBirth(_ sample: Sample, seq: UInt8) -> Publish {
        let members = sample.values.map { ($0.name, Self.object([("type", Self.string($0.type)), ("value", Self.number($0))])) }
        let object = [("online", "true"), ("timestamp", "\(sample.at)"), ("members", Self.object(members))]
        return Publish(topic: "\(root)/\(sample.device)/birth", payload: Array(Self.object(object).utf8), retain: true)
    }

    func deviceDeath(device: String, seq: UInt8, at: UInt64) -> Publish {
        Publish(topic: "\(root)/\(device)/birth", payload: Array(Self.object([("online", "false"), ("timestamp", "\(at)")]).utf8), retain: true)
    }

    func deviceData(_ sample: Sample, seq: UInt8, historical: Bool) -> Publish {
        var fields = sample.values.map { ($0.name, Self.number($0)) }
        fields.append(("timestamp", "\(sample.at)"))
        if historical { fields.append(("historical", "true")) }
        return Publish(topic: "\(root)/\(sample.device)", payload: Array(Self.object(fields).utf8))
    }

    func command(_ message: Publish) throws(CommandError) -> Command? {
        guard message.topic.hasPrefix("\(root)/") else { return nil }
        let rest = message.topic.dropFirst(root.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        if rest == ["rebirth"] { return .rebirth }
        guard rest.count == 2, rest[1] == "set", !rest[0].isEmpty else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any] else {
            throw CommandError("\(message.topic): not a JSON object of member names and values")
        }
        var values: [String: Double] = [:]
        for (name, value) in object {
            // JSON true and false come as NSNumber too: both are numbers here, 1 and 0.
            guard let number = value as? NSNumber else { throw CommandError("\(message.topic): \(name) is not a number or a boolean") }
            values[name] = number.doubleValue
        }
        return .write(device: String(rest[0]), values: values)
    }

    /// A member's value as JSON: BOOL as true/false, integers without a point, REAL as a 32-bit float prints.
    static func number(_ value: MemberValue) -> String {
        guard value.value.isFinite else { return "null" }
        switch value.type {
        case "BOOL": return value.value != 0 ? "true" : "false"
        case "REAL": return "\(Float(value.value))"
        default: return "\(Int64(value.value))"
        }
    }

    static func string(_ text: String) -> String {
        (try? JSONEncoder().encode(text)).flatMap { String(data: $0, encoding: .utf8) } ?? "\"\""
    }

    /// Fields (already JSON values) as an object, in the order given.
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }
}
