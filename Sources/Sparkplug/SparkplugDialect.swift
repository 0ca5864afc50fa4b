import MQTT
import SwiftProtobuf

public typealias SparkplugPayload = Org_Eclipse_Tahu_Protobuf_Payload
public typealias SparkplugDataType = Org_Eclipse_Tahu_Protobuf_DataType

/// Sparkplug B 3.0: Tahu payloads on `spBv1.0/…` topics. Births, deaths and
/// data at QoS 0, not retained; the NDEATH will at QoS 1. Metrics go by name
/// (no aliases), each with its datatype and timestamp.
struct SparkplugDialect: Dialect {
    let group: String
    let edgeNode: String

    static let rebirth = "Node Control/Rebirth"

    var sequenced: Bool { true }

    var subscriptions: [Subscription] {
        [Subscription(topic(.nodeCommand).description), Subscription(topic(.deviceCommand, device: "+").description)]
    }

    private func topic(_ kind: SparkplugTopic.Kind, device: String? = nil) -> SparkplugTopic {
        SparkplugTopic(group: group, kind: kind, edgeNode: edgeNode, device: device)
    }

    private func message(_ kind: SparkplugTopic.Kind, device: String? = nil, _ payload: SparkplugPayload) -> Publish {
        // Encoding a message of ours, all of whose fields are set by us, cannot fail.
        let bytes: [UInt8] = (try? payload.serializedBytes()) ?? []
        return Publish(topic: topic(kind, device: device).description, payload: bytes)
    }

    func will(bdSeq: UInt64) -> Will {
        var payload = SparkplugPayload()
        payload.timestamp = 0
        payload.metrics = [Self.metric("bdSeq", .count(bdSeq), at: nil)]
        let bytes: [UInt8] = (try? payload.serializedBytes()) ?? []
        return Will(topic: topic(.nodeDeath).description, payload: bytes, qos: .atLeastOnce)
    }

    func bdSeq(of will: Will) -> UInt64? {
        guard let payload = try? SparkplugPayload(serializedBytes: will.payload),
              let metric = payload.metrics.first(where: { $0.name == "bdSeq" }), case .longValue(let value)? = metric.value else { return nil }
        return value
    }

    func nodeBirth(bdSeq: UInt64, metrics: [NodeMetric], seq: UInt8, at: UInt64) -> Publish {
        let control = [NodeMetric(name: "bdSeq", value: .count(bdSeq)), NodeMetric(name: Self.rebirth, value: .bool(false))]
        return message(.nodeBirth, payload(control + metrics, seq: seq, at: at))
    }

    func nodeData(metrics: [NodeMetric], seq: UInt8, at: UInt64) -> Publish {
        message(.nodeData, payload(metrics, seq: seq, at: at))
    }

    func nodeDeath(bdSeq: UInt64, at: UInt64) -> Publish {
        var payload = SparkplugPayload()
        payload.timestamp = at
        payload.metrics = [Self.metric("bdSeq", .count(bdSeq), at: at)]
        return message(.nodeDeath, payload)
    }

    private func payload(_ metrics: [NodeMetric], seq: UInt8, at: UInt64) -> SparkplugPayload {
        var payload = SparkplugPayload()
        payload.timestamp = at
        payload.seq = UInt64(seq)
        payload.metrics = metrics.map { Self.metric($0.name, $0.value, at: at) }
        return payload
    }

    func deviceBirth(_ sample: Sample, seq: UInt8) -> Publish {
        message(.deviceBirth, device: sample.device, payload(sample, seq: seq, historical: false))
    }

    func deviceDeath(device: String, seq: UInt8, at: UInt64) -> Publish {
        var payload = SparkplugPayload()
        payload.timestamp = at
        payload.seq = UInt64(seq)
        return message(.deviceDeath, device: device, payload)
    }

    func deviceData(_ sample: Sample, seq: UInt8, historical: Bool) -> Publish {
        message(.deviceData, device: sample.device, payload(sample, seq: seq, historical: historical))
    }

    private func payload(_ sample: Sample, seq: UInt8, historical: Bool) -> SparkplugPayload {
        var payload = SparkplugPayload()
        payload.timestamp = sample.at
        payload.seq = UInt64(seq)
        payload.metrics = sample.values.map { value in
            var metric = Self.metric(value)
            metric.timestamp = sample.at
            if historical { metric.isHistorical = true }
            return metric
        }
        return payload
    }

    func command(_ message: Publish) throws(CommandError) -> Command? {
        guard let topic = SparkplugTopic(message.topic), topic.group == group, topic.edgeNode == edgeNode,
              [.nodeCommand, .deviceCommand].contains(topic.kind) else { return nil }
        let payload: SparkplugPayload
        do {
            payload = try SparkplugPayload(serializedBytes: message.payload)
        } catch {
            throw CommandError("\(topic.kind.rawValue) on \(message.topic): not a Sparkplug B payload (\(error))")
        }
        guard let device = topic.device else {
            let rebirth = payload.metrics.contains { $0.name == Self.rebirth && $0.booleanValue }
            guard rebirth else { throw CommandError("NCMD: only \(Self.rebirth) = true is understood") }
            return .rebirth
        }
        var values: [String: Double] = [:]
        for metric in payload.metrics {
            guard metric.hasName else { throw CommandError("DCMD for \(device): a metric without a name (this node gives no aliases)") }
            values[metric.name] = try Self.number(metric)
        }
        return .write(device: device, values: values)
    }
}

extension SparkplugDialect {
    /// The Sparkplug datatype of a member's Logix type.
    static func dataType(_ type: String) -> SparkplugDataType {
        switch type {
        case "INT": .int16
        case "UINT": .uint16
        case "DINT": .int32
        case "UDINT": .uint32
        case "BOOL": .boolean
        default: .float
        }
    }

    static func metric(_ value: MemberValue) -> SparkplugPayload.Metric {
        var metric = SparkplugPayload.Metric()
        metric.name = value.name
        let type = dataType(value.type)
        metric.datatype = UInt32(type.rawValue)
        switch type {
        // Signed integers go as two's complement of their own width (Int16 -2
        // as 65534): Tahu's decoders truncate to the width, so they read it,
        // and stricter ones (pysparkplug) refuse the 32-bit sign extension.
        case .int16: metric.intValue = UInt32(UInt16(bitPattern: Int16(value.value)))
        case .int32: metric.intValue = UInt32(bitPattern: Int32(value.value))
        case .uint16, .uint32: metric.intValue = UInt32(value.value)
        case .boolean: metric.booleanValue = value.value != 0
        default: metric.floatValue = Float(value.value)
        }
        return metric
    }

    static func metric(_ name: String, _ value: NodeMetric.Value, at: UInt64?) -> SparkplugPayload.Metric {
        var metric = SparkplugPayload.Metric()
        metric.name = name
        if let at { metric.timestamp = at }
        switch value {
        case .bool(let flag):
            metric.datatype = UInt32(SparkplugDataType.boolean.rawValue)
            metric.booleanValue = flag
        case .count(let count):
            metric.datatype = UInt32(SparkplugDataType.uint64.rawValue)
            metric.longValue = count
        }
        return metric
    }

    /// A command metric's value as a number; its datatype (when given) says how to read an integer.
    static func number(_ metric: SparkplugPayload.Metric) throws(CommandError) -> Double {
        let type = metric.hasDatatype ? SparkplugDataType(rawValue: Int(metric.datatype)) : nil
        switch metric.value {
        case .intValue(let raw)?:
            switch type {
            case .int8?: return Double(Int8(truncatingIfNeeded: raw))
            case .int16?: return Double(Int16(truncatingIfNeeded: raw))
            case .int32?: return Double(Int32(bitPattern: raw))
            default: return Double(raw)
            }
        case .longValue(let raw)?: return type == .int64 ? Double(Int64(bitPattern: raw)) : Double(raw)
        case .floatValue(let value)?: return Double(value)
        case .doubleValue(let value)?: return value
        case .booleanValue(let flag)?: return flag ? 1 : 0
        default: throw CommandError("metric \(metric.name): a number or a boolean is needed")
        }
    }
}
