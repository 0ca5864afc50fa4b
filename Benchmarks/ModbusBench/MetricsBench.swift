import CoreMetrics
import Foundation
import Gateway
import Prometheus

/// `GET /metrics` of a gateway with `lines` lines of `slaves` slaves each:
/// the series the gateway makes (nine per line; per slave a latency
/// histogram and three poll-load gauges), each given a value, rendered as
/// the status endpoint renders them. Prints the median and best render time
/// in milliseconds and the size, as JSON.
func metricsBench(lines: Int, slaves: Int, rounds: Int) {
    let registry = PrometheusCollectorRegistry()
    let factory = PrometheusMetricsFactory(registry: registry)
    let lineCounters = ["transactions_total", "timeouts_total", "exceptions_total", "failed_fast_total", "refused_busy_total",
                        "noise_bytes_total", "crc_errors_total"]
    for line in 0..<lines {
        let name = [("line", "line-\(line)")]
        for counter in lineCounters { Counter(label: "fieldgw_line_\(counter)", dimensions: name, factory: factory).increment(by: line + 1) }
        Gauge(label: "fieldgw_line_queue_depth", dimensions: name, factory: factory).record(3)
        Gauge(label: "fieldgw_line_utilisation", dimensions: name, factory: factory).record(0.42)
        for slave in 1...slaves {
            let dimensions = name + [("slave", "\(slave)")]
            Timer(label: "fieldgw_slave_latency_seconds", dimensions: dimensions, factory: factory).recordMilliseconds(7)
            for minutes in ["1", "5", "15"] {
                Gauge(label: "fieldgw_slave_poll_load", dimensions: dimensions + [("minutes", minutes)], factory: factory).record(0.01)
            }
        }
    }
    var times: [Double] = []
    var size = 0
    for _ in 0..<rounds {
        let start = ContinuousClock.now
        size = MetricsHelp.render(registry).count
        let elapsed = ContinuousClock.now - start
        times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
    }
    let sorted = times.sorted()
    print("{\"median_ms\": \(sorted[sorted.count / 2]), \"best_ms\": \(sorted[0]), \"bytes\": \(size)}")
}
