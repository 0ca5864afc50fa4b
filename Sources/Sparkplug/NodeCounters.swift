import CoreMetrics
import Gateway
import Synchronization

/// The node's state as `fieldgw status` shows it, kept behind a lock so
/// that the status can be read without waiting on the node, and mirrored
/// into metrics: `fieldgw_mqtt_connected`, `fieldgw_mqtt_spool_messages`,
/// `fieldgw_mqtt_messages_published_total`, `fieldgw_mqtt_messages_dropped_total`,
/// `fieldgw_mqtt_commands_total{result="done|refused"}`.
final class NodeCounters: Sendable {
    private let state: Mutex<GatewayStatus.MQTT>
    private let connected: Gauge
    private let queued: Gauge
    private let published: Counter
    private let dropped: Counter
    private let commands: Counter
    private let refused: Counter

    init(mode: String, metrics: any MetricsFactory) {
        state = Mutex(GatewayStatus.MQTT(mode: mode))
        connected = Gauge(label: "fieldgw_mqtt_connected", factory: metrics)
        queued = Gauge(label: "fieldgw_mqtt_spool_messages", factory: metrics)
        published = Counter(label: "fieldgw_mqtt_messages_published_total", factory: metrics)
        dropped = Counter(label: "fieldgw_mqtt_messages_dropped_total", factory: metrics)
        commands = Counter(label: "fieldgw_mqtt_commands_total", dimensions: [("result", "done")], factory: metrics)
        refused = Counter(label: "fieldgw_mqtt_commands_total", dimensions: [("result", "refused")], factory: metrics)
    }

    var status: GatewayStatus.MQTT { state.withLock { $0 } }

    func update(_ change: (inout GatewayStatus.MQTT) -> Void) {
        let (before, after) = state.withLock { status in
            let before = status
            change(&status)
            return (before, status)
        }
        connected.record(after.connected ? 1 : 0)
        queued.record(after.queued)
        for (counter, delta) in [(published, after.published - before.published), (dropped, after.dropped - before.dropped),
                                 (commands, after.commands - before.commands), (refused, after.refusedCommands - before.refusedCommands)]
        where delta > 0 {
            counter.increment(by: delta)
        }
    }
}

/// Sparkplug's birth/death sequence number: a new one on every connection
/// attempt (its NDEATH will carries it, the NBIRTH after it the same), kept
/// in the spool directory so that a restarted gateway's births are never
/// taken for those of the run before it, whose will may still be on its way.
final class BirthDeathSequence: Sendable {
    private let path: String
    private let value: Mutex<UInt64?>

    init(directory: String) throws(SpoolError) {
        path = "\(directory)/bdseq"
        let stored = (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        value = Mutex(stored)
    }

    /// The number for the next connection attempt (0 to 255, then 0 again), written down first.
    func next() -> UInt64 {
        let number = value.withLock { value in
            let number = value.map { ($0 + 1) % 256 } ?? 0
            value = number
            return number
        }
        try? "\(number)\n".write(toFile: path, atomically: true, encoding: .utf8)
        return number
    }

    var current: UInt64 { value.withLock { $0 ?? 0 } }
}
