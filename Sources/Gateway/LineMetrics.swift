import CoreMetrics
import Modbus
import Synchronization

/// A line's metrics through swift-metrics (dimension `line`; `slave` where it
/// is per slave), for whatever backend the process bootstraps (Prometheus in
/// the web API): transactions, timeouts, exceptions, requests failed fast or
/// refused busy, the framer's noise bytes and CRC errors, stray replies (Modbus/TCP lines), a latency timer per
/// slave (a histogram in most backends), and the queue depth.
struct LineMetrics: Sendable {
    let factory: any MetricsFactory
    let line: String
    let transactions: Counter
    let timeouts: Counter
    let exceptions: Counter
    let failedFast: Counter
    let refusedBusy: Counter
    let noiseBytes: Counter
    let crcErrors: Counter
    let strays: Counter
    let queueDepth: Gauge
    /// The fraction of each utilisation window the line spent in transactions.
    let utilisation: Gauge
    /// Each slave's latency timer, made once: a backend looks a label up under a lock.
    private let timers = Guarded<[UInt8: Timer]>([:])

    init(line: String, factory: any MetricsFactory) {
        self.factory = factory
        self.line = line
        let dimensions = [("line", line)]
        transactions = Counter(label: "fieldgw_line_transactions_total", dimensions: dimensions, factory: factory)
        timeouts = Counter(label: "fieldgw_line_timeouts_total", dimensions: dimensions, factory: factory)
        exceptions = Counter(label: "fieldgw_line_exceptions_total", dimensions: dimensions, factory: factory)
        failedFast = Counter(label: "fieldgw_line_failed_fast_total", dimensions: dimensions, factory: factory)
        refusedBusy = Counter(label: "fieldgw_line_refused_busy_total", dimensions: dimensions, factory: factory)
        noiseBytes = Counter(label: "fieldgw_line_noise_bytes_total", dimensions: dimensions, factory: factory)
        crcErrors = Counter(label: "fieldgw_line_crc_errors_total", dimensions: dimensions, factory: factory)
        strays = Counter(label: "fieldgw_line_stray_replies_total", dimensions: dimensions, factory: factory)
        queueDepth = Gauge(label: "fieldgw_line_queue_depth", dimensions: dimensions, factory: factory)
        utilisation = Gauge(label: "fieldgw_line_utilisation", dimensions: dimensions, factory: factory)
    }

    /// The time a slave took to answer (its frames' own time on the wire left out).
    func latency(_ slave: UInt8, _ duration: Duration) {
        let timer = timers.withLock { timers in
            if let timer = timers[slave] { return timer }
            let timer = Timer(label: "fieldgw_slave_latency_seconds", dimensions: [("line", line), ("slave", "\(slave)")], factory: factory)
            timers[slave] = timer
            return timer
        }
        timer.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// What the framer counted since the last transaction.
    func framer(from old: RTUFramer.Counters, to new: RTUFramer.Counters) {
        if new.noiseBytes > old.noiseBytes { noiseBytes.increment(by: new.noiseBytes - old.noiseBytes) }
        if new.crcErrors > old.crcErrors { crcErrors.increment(by: new.crcErrors - old.crcErrors) }
        if new.strays > old.strays { strays.increment(by: new.strays - old.strays) }
    }
}
