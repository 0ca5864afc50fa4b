#if canImport(Glibc)
import Glibc
#endif
import Prometheus

/// The `# HELP` lines of the gateway's metrics. swift-prometheus gives
/// metrics made through swift-metrics no help text (and stops the process if
/// one name is given two), so the text is added where `/metrics` is served,
/// before each metric's `# TYPE` line.
public enum MetricsHelp {
    /// What `GET /metrics` answers: `registry` in Prometheus's text format, with help.
    public static func render(_ registry: PrometheusCollectorRegistry) -> [UInt8] {
        var text: [UInt8] = []
        registry.emit(into: &text)
        return annotate(text)
    }

    static let texts: [String: String] = [
        "fieldgw_line_transactions_total": "Transactions the line carried (requests put on the wire).",
        "fieldgw_line_timeouts_total": "Requests that no slave answered in time.",
        "fieldgw_line_exceptions_total": "Exception replies from the line's slaves.",
        "fieldgw_line_failed_fast_total": "Requests answered 0x0B at once because the slave's breaker was open.",
        "fieldgw_line_refused_busy_total": "Requests refused 0x06 because the line's queue was full.",
        "fieldgw_line_noise_bytes_total": "Bytes the framer dropped as noise.",
        "fieldgw_line_crc_errors_total": "Frames the framer dropped for a bad CRC (RTU) or LRC (ASCII).",
        "fieldgw_line_stray_replies_total": "Replies that matched no request in flight (a tcp line: late, or an unknown transaction id), dropped.",
        "fieldgw_line_queue_depth": "Requests waiting for the line.",
        "fieldgw_line_utilisation": "Fraction of the last utilisation window the line spent in transactions.",
        "fieldgw_slave_latency_seconds": "Time a slave took to answer, its frames' own time on the wire left out.",
        "fieldgw_slave_poll_load": "Fraction of the line a slave's polls take, over 1, 5 and 15 minutes.",
        "fieldgw_modbus_tcp_connections": "Modbus/TCP clients connected to the listener now.",
        "fieldgw_modbus_tcp_connections_total": "Modbus/TCP clients the listener accepted.",
        "fieldgw_modbus_tcp_requests_total": "Modbus/TCP requests the listener served.",
        "fieldgw_modbus_tcp_exceptions_total": "Modbus exception replies the listener sent, by exception code.",
        "fieldgw_enip_sessions": "EtherNet/IP sessions registered now.",
        "fieldgw_enip_connections": "EtherNet/IP (Forward Open) connections open now.",
        "fieldgw_enip_requests_total": "CIP requests the EtherNet/IP server answered, by service code.",
        "fieldgw_enip_errors_total": "CIP replies with an error, by general status.",
        "fieldgw_enip_io_connections": "Class 1 (implicit I/O) connections open now.",
        "fieldgw_enip_io_packets_total": "Class 1 I/O packets: produced (T->O), consumed (O->T) and dropped (O->T refused).",
        "fieldgw_enip_io_timeouts_total": "Class 1 I/O connections closed because their O->T packets stopped.",
    ]

    /// `text` (Prometheus's text format) with a `# HELP` line before each
    /// `# TYPE` line whose metric has one. Only the few `# TYPE` lines are
    /// looked at (found with memchr); the rest is copied in bulk: a gateway
    /// of 16 lines × 32 slaves renders 640 KB.
    static func annotate(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + 2048)
        let marker = Array("# TYPE ".utf8)
        text.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress else { return }
            var copied = 0
            var from = 0
            // '#' is rare in the text: only comment lines (and label values) hold it.
            while from < bytes.count, let found = memchr(base + from, Int32(UInt8(ascii: "#")), bytes.count - from) {
                let at = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                from = at + 1
                guard at == 0 || bytes[at - 1] == UInt8(ascii: "\n"), bytes[at...].starts(with: marker) else { continue }
                from = at + marker.count
                let nameEnd = (from..<bytes.count).first { bytes[$0] == UInt8(ascii: " ") } ?? bytes.count
                let name = String(decoding: bytes[from..<nameEnd], as: UTF8.self)
                guard let help = texts[name] else { continue }
                out.append(contentsOf: bytes[copied..<at])
                out.append(contentsOf: "# HELP \(name) \(help)\n".utf8)
                copied = at
            }
            out.append(contentsOf: bytes[copied...])
        }
        return out
    }
}
