import CoreMetrics
import StreamServer
import Synchronization

/// A Modbus/TCP listener's figures, labelled `listener` (its HOST:PORT):
/// clients connected now and since start, requests served, and exception
/// replies by code. A server loop counts in plain integers and hands them
/// over once per wake-up, so the hot path pays nothing per request.
public final class ListenerMetrics: LoopMetrics {
    let connected: Gauge
    let accepted: Counter
    let requests: Counter
    private let factory: any MetricsFactory
    private let listener: String
    private let exceptions = Mutex<[UInt8: Counter]>([:])

    /// Registers the listener's metrics with `factory`, labelled `listener`.
    public init(listener: String, factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        self.listener = listener
        let dimensions = [("listener", listener)]
        connected = Gauge(label: "fieldgw_modbus_tcp_connections", dimensions: dimensions, factory: factory)
        accepted = Counter(label: "fieldgw_modbus_tcp_connections_total", dimensions: dimensions, factory: factory)
        requests = Counter(label: "fieldgw_modbus_tcp_requests_total", dimensions: dimensions, factory: factory)
    }

    /// Takes a loop's counts since the last hand-over.
    public func add(_ tally: inout LoopTally, connected now: Int) {
        if tally.accepted > 0 { accepted.increment(by: tally.accepted) }
        if tally.requests > 0 { requests.increment(by: tally.requests) }
        for (code, count) in tally.codes { exceptionCounter(code).increment(by: count) }
        connected.record(now)
        tally = LoopTally()
    }

    private func exceptionCounter(_ code: UInt8) -> Counter {
        exceptions.withLock { counters in
            if let counter = counters[code] { return counter }
            let counter = Counter(label: "fieldgw_modbus_tcp_exceptions_total",
                                  dimensions: [("listener", listener), ("code", Self.hex(code))], factory: factory)
            counters[code] = counter
            return counter
        }
    }

    /// "0x0B", as the exception codes are written in the README.
    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return "0x" + (digits.count < 2 ? "0" + digits : digits)
    }
}
