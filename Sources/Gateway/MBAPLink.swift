import Foundation
import Modbus
import NIOCore
import Serial
import Synchronization
import Threads

/// A remote Modbus/TCP device or gateway as a line's link. Up to `capacity`
/// requests are in flight on its one connection, each under a transaction id
/// of its own; a thread of the link's reads the replies and matches them by
/// that id. A reply whose id is not in flight (late, after its timeout, or
/// never asked for) is dropped and counted as a stray. A broken header or a
/// closed connection loses what is in flight (`.connection`), and the link
/// calls `onBreak` so that the Bus connects again.
final class MBAPLink: LineLink, @unchecked Sendable {
    let address: String
    let capacity: Int
    let broadcasts = false
    let lossException = ExceptionCode.gatewayTargetFailed
    private let port: SerialPort
    private let state = Mutex(State())
    private let onBreak: @Sendable (String) -> Void

    private struct State {
        var next: UInt16 = 0
        var flights: [UInt16: Flight] = [:]
        var counters = RTUFramer.Counters()
        var closed = false
    }

    private struct Flight {
        let transaction: LinkTransaction
        let sent: ContinuousClock.Instant
        let deadline: ContinuousClock.Instant
        let done: @Sendable (LinkOutcome) -> Void
    }

    /// Connects (a refusal or silence within `connectTimeout` is thrown) and starts the reader.
    init(host: String, port: Int, connectTimeout: Duration, capacity: Int, onBreak: @escaping @Sendable (String) -> Void) throws(SerialError) {
        self.port = try SerialPort(connectingTo: host, port: port, timeout: connectTimeout)
        address = "\(host):\(port)"
        self.capacity = capacity
        self.onBreak = onBreak
        // The reader keeps the link (and its socket) alive until it ends, so
        // the descriptor closes only once nobody reads it.
        WorkerThread.detach(name: "tcp line \(address)") { [self] in readReplies() }
    }

    var inFlight: Int { state.withLock { $0.flights.count } }
    var counters: RTUFramer.Counters { state.withLock { $0.counters } }

    func start(_ transaction: LinkTransaction, done: @escaping @Sendable (LinkOutcome) -> Void) {
        let now = ContinuousClock.now
        let id: UInt16? = state.withLock { state in
            guard !state.closed else { return nil }
            repeat { state.next &+= 1 } while state.flights[state.next] != nil
            state.flights[state.next] = Flight(transaction: transaction, sent: now, deadline: now + transaction.timeout, done: done)
            return state.next
        }
        guard let id else { return done(lost("the connection to \(address) is closed", since: now)) }
        let length = transaction.pdu.count + 1
        let frame = [UInt8(id >> 8), UInt8(id & 0xFF), 0, 0, UInt8(length >> 8), UInt8(length & 0xFF), transaction.unit] + transaction.pdu
        do {
            try port.write(frame)
        } catch {
            // The reader may have lost it already; whoever takes it answers it.
            if let flight = state.withLock({ $0.flights.removeValue(forKey: id) }) { flight.done(lost("\(error)", since: now)) }
        }
    }

    func expire(at now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        let (expired, next, counters) = state.withLock { state in
            let expired = state.flights.filter { $0.value.deadline <= now }
            for id in expired.keys { state.flights[id] = nil }
            return (Array(expired.values), state.flights.values.map(\.deadline).min(), state.counters)
        }
        for flight in expired {
            let error = ModbusError(.timeout, "no reply from \(address) within \(flight.transaction.timeout)")
            flight.done(LinkOutcome(reply: .failure(error), latency: now - flight.sent, heard: false, counters: counters))
        }
        return next
    }

    /// Hangs up; the reader, woken, answers what is still in flight as lost.
    func close() {
        state.withLock { $0.closed = true }
        port.hangUp()
    }

    private func readReplies() {
        var pending = ByteBuffer()
        var chunk = [UInt8](repeating: 0, count: 4096)
        let reason: String
        do {
            while true {
                let count = try chunk.withUnsafeMutableBytes { try port.read(into: $0, deadline: .now + .seconds(3600)) }
                pending.writeBytes(chunk[0..<count])
                // A header no Modbus/TCP server sends throws: the framing is lost with it.
                while let frame = try MBAPDecoder.frame(from: &pending) { match(frame) }
                pending.discardReadBytes()
            }
        } catch {
            reason = "\(error)"
        }
        let (flights, byUs) = state.withLock { state in
            defer { (state.closed, state.flights) = (true, [:]) }
            return (Array(state.flights.values), state.closed)
        }
        for flight in flights { flight.done(lost(reason, since: flight.sent)) }
        if !byUs { onBreak("the connection to \(address) failed: \(reason)") }
    }

    private func match(_ frame: MBAPFrame) {
        let now = ContinuousClock.now
        let (flight, counters): (Flight?, RTUFramer.Counters) = state.withLock { state in
            guard let flight = state.flights.removeValue(forKey: frame.transaction) else {
                state.counters.strays += 1
                return (nil, state.counters)
            }
            state.counters.frames += 1
            return (flight, state.counters)
        }
        guard let flight else { return }
        flight.done(LinkOutcome(reply: Self.check(frame.pdu, unit: frame.unit, for: flight.transaction), latency: now - flight.sent,
                                heard: true, counters: counters))
    }

    /// The reply as the Bus passes it on, once it fits the request.
    private static func check(_ pdu: [UInt8], unit: UInt8, for transaction: LinkTransaction) -> Result<[UInt8]?, ModbusError> {
        guard unit == transaction.unit else {
            return .failure(ModbusError(.malformedReply, "a reply from unit \(unit) to a request for unit \(transaction.unit)"))
        }
        guard let request = transaction.request else {
            guard pdu.first.map({ $0 & 0x7F }) == transaction.pdu.first else {
                return .failure(ModbusError(.malformedReply, "a reply of function \(pdu.first ?? 0) to function \(transaction.pdu.first ?? 0)"))
            }
            return .success(pdu)
        }
        do {
            _ = try Response(pdu: pdu[...], for: request)
            return .success(pdu)
        } catch {
            return .failure(error)
        }
    }

    private func lost(_ reason: String, since sent: ContinuousClock.Instant) -> LinkOutcome {
        LinkOutcome(reply: .failure(ModbusError(.connection, reason)), latency: ContinuousClock.now - sent, heard: false, counters: counters)
    }
}
