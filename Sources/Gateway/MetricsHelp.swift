/// The `# HELP` lines of the gateway's metrics. swift-prometheus gives
/// metrics made through swift-metrics no help text (and stops the process if
/// one name is given two), so the text is added where `/metrics` is served,
/// before each metric's `# TYPE` line.
enum MetricsHelp {
    static let texts: [String: String] = [
        "fieldgw_line_transactions_total": "Transactions the line carried (requests put on the wire).",
        "fieldgw_line_timeouts_total": "Requests that no slave answered in time.",
        "fieldgw_line_exceptions_total": "Exception replies from the line's slaves.",
        "fieldgw_line_failed_fast_total": "Requests answered 0x0B at once because the slave's breaker was open.",
        "fieldgw_line_refused_busy_total": "Requests refused 0x06 because the line's queue was full.",
        "fieldgw_line_noise_bytes_total": "Bytes the RTU framer dropped as noise.",
        "fieldgw_line_crc_errors_total": "Frames the RTU framer dropped for a bad CRC.",
        "fieldgw_line_queue_depth": "Requests waiting for the line.",
        "fieldgw_line_utilisation": "Fraction of the last utilisation window the line spent in transactions.",
        "fieldgw_slave_latency_seconds": "Time a slave took to answer, its frames' own time on the wire left out.",
        "fieldgw_slave_poll_load": "Fraction of the line a slave's polls take, over 1, 5 and 15 minutes.",
    ]

    /// `text` (Prometheus's text format) with a `# HELP` line before each `# TYPE` line whose metric has one.
    static func annotate(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + 2048)
        for line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.starts(with: Array("# TYPE ".utf8)) {
                let name = String(decoding: line.dropFirst(7).prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
                if let help = texts[name] { out += Array("# HELP \(name) \(help)\n".utf8) }
            }
            out += line
            out.append(UInt8(ascii: "\n"))
        }
        if text.last == UInt8(ascii: "\n") || text.isEmpty { out.removeLast() }
        return out
    }
}
