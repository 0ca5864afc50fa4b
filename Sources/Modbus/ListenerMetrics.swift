import CoreMetrics
import Synchronization

/// A Modbus/TCP listener's figures, labelled `listener` (its HOST:PORT):
/// clients connected now and since start, requests served, and exception
/// replies by code. A server loop counts in plain integers and hands them
/// over once per wake-up, so the hot path pays nothing per request.
public final class ListenerMetrics: Sendable {
    let connected: Gauge
    let accepted: Counter
    let requests: Counter
    private let factory: any MetricsFactory
    private let listener: String
    private let exceptions = Mutex<[UInt8: Counter]>([:])

    public init(listener: String, factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        self.listener = listener
        let dimensions = [("listener", listener)]
        connected = Gauge(label: "fieldgw_modbus_tcp_connections", dimensions: dimensions, factory: factory)
        accepted = Counter(label: "fieldgw_modbus_tcp_connections_total", dimensions: dimensions, factory: factory)
        requests = Counter(label: "fieldgw_modbus_tcp_requests_total", dimensions: dimensions, factory: factory)
    }

    /// Counts kept by one loop between hand-overs.
    struct Tally {
        var accepted = 0
        var closed = 0
        var requests = 0
        var exceptions: [UInt8: Int] = [:]
        var isEmpty: Bool { accepted == 0 && closed == 0 && requests == 0 && exceptions.isEmpty }
    }

    /// `now` is read only when the tally has something: the loop calls this
    /// after every look at its sockets, spinning ones included.
    func add(_ tally: inout Tally, connected now: @autoclosure () -> Int) {
        guard !tally.isEmpty else { return }
        if tally.accepted > 0 { accepted.increment(by: tally.accepted) }
        if tally.requests > 0 { requests.increment(by: tally.requests) }
        for (code, count) in tally.exceptions { exceptionCounter(code).increment(by: count) }
        connected.record(now())
        tally = Tally()
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
