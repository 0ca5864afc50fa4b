import CoreMetrics
import Synchronization

/// An EtherNet/IP server's figures, labelled `server` (its HOST:PORT):
/// sessions registered and Forward Open connections now, requests by CIP
/// service and error replies by CIP status.
public final class ServerMetrics: Sendable {
    let sessions: Meter
    let connections: Gauge
    private let factory: any MetricsFactory
    private let server: String
    private let requests = Mutex<[UInt8: Counter]>([:])
    private let errors = Mutex<[UInt8: Counter]>([:])

    /// Registers the server's metrics with `factory`, labelled `server`.
    public init(server: String, factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        self.server = server
        sessions = Meter(label: "fieldgw_enip_sessions", dimensions: [("server", server)], factory: factory)
        connections = Gauge(label: "fieldgw_enip_connections", dimensions: [("server", server)], factory: factory)
    }

    /// One request of `service` answered with `status`.
    func served(_ service: UInt8, _ status: CIPStatus) {
        counter(in: requests, "fieldgw_enip_requests_total", "service", service).increment()
        if status != .success { counter(in: errors, "fieldgw_enip_errors_total", "status", status.general).increment() }
    }

    private func counter(in table: borrowing Mutex<[UInt8: Counter]>, _ label: String, _ key: String, _ byte: UInt8) -> Counter {
        table.withLock { counters in
            if let counter = counters[byte] { return counter }
            let counter = Counter(label: label, dimensions: [("server", server), (key, CIPStatus.hex(byte))], factory: factory)
            counters[byte] = counter
            return counter
        }
    }
}

/// A server's Class 1 I/O figures, labelled `server`: connections open now,
/// packets produced (T→O), consumed (O→T) and dropped (O→T refused: another
/// address, out of sequence, the wrong size), and connections timed out.
public struct IOMetrics: Sendable {
    let connections: Gauge
    let produced: Counter
    let consumed: Counter
    let dropped: Counter
    let timeouts: Counter

    /// Registers the I/O metrics with `factory`, labelled `server`.
    public init(server: String, factory: any MetricsFactory = MetricsSystem.factory) {
        let labels = [("server", server)]
        connections = Gauge(label: "fieldgw_enip_io_connections", dimensions: labels, factory: factory)
        produced = Counter(label: "fieldgw_enip_io_packets_total", dimensions: labels + [("direction", "produced")], factory: factory)
        consumed = Counter(label: "fieldgw_enip_io_packets_total", dimensions: labels + [("direction", "consumed")], factory: factory)
        dropped = Counter(label: "fieldgw_enip_io_packets_total", dimensions: labels + [("direction", "dropped")], factory: factory)
        timeouts = Counter(label: "fieldgw_enip_io_timeouts_total", dimensions: labels, factory: factory)
    }
}
