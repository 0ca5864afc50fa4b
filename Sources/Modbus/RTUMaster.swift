#if canImport(Glibc)
import Glibc
#endif
import Serial

/// A Modbus/RTU master on a serial port: one transaction at a time, as a
/// half-duplex line allows. Owned by one thread (a gateway's Bus).
///
/// Each transaction waits for t3.5 of idle line, flushes, writes and drains
/// the request, then reads until the framer confirms the reply or the
/// deadline passes: transmit time + `slaveTimeout` + the reply's own time on
/// the wire. A broadcast (unit 0) waits for no reply, only `turnaround`.
public final class RTUMaster {
    /// The line the master owns.
    public let port: SerialPort
    /// How long a unit may take to start answering; the frames' own time on the
    /// wire is added to it.
    public var slaveTimeout: Duration
    /// Extra attempts after a timeout or a malformed reply.
    public var retries: Int
    /// The pause after a broadcast, for every slave to act on it.
    public var turnaround: Duration
    /// The least silence before each request, when a slow slave needs more than the spec's t3.5.
    public var interFrameDelay: Duration = .zero
    private var framer = RTUFramer()
    /// When the line last carried a byte we know of.
    private var lastActivity = ContinuousClock.now

    /// A master on `port`, which stays open and configured as it is.
    public init(port: SerialPort, slaveTimeout: Duration = .seconds(1), retries: Int = 0, turnaround: Duration = .milliseconds(100)) {
        self.port = port
        self.slaveTimeout = slaveTimeout
        self.retries = retries
        self.turnaround = turnaround
    }

    /// What the master's framer has seen on the line.
    public var counters: RTUFramer.Counters { framer.counters }

    /// Sends `request` to `unit`; the reply (maybe an `.exception`), or nil for a broadcast.
    public func send(_ request: Request, unit: UInt8) throws(ModbusError) -> Response? {
        let frame = RTUFrame.encode(unit: unit, pdu: request.pdu)
        var lastError = ModbusError(.timeout, "no reply")
        for _ in 0...max(0, retries) {
            do {
                return try transact(request, unit: unit, frame: frame)
            } catch where error.code == .timeout || error.code == .malformedReply {
                lastError = error
            }
        }
        throw lastError
    }

    /// Like `send`, but a Modbus exception is thrown too.
    public func call(_ request: Request, unit: UInt8) throws(ModbusError) -> Response? {
        let response = try send(request, unit: unit)
        if case .exception(let exception)? = response { throw ModbusError.from(exception) }
        return response
    }

    /// A request of a function this implementation does not know, sent as it
    /// is (best effort): the reply is whatever frame follows, ended by t3.5 of
    /// silence, from `unit`, with a good CRC, for that function (or its
    /// exception); nil for a broadcast. Our own request heard back (local echo)
    /// is skipped.
    public func passThrough(_ pdu: [UInt8], unit: UInt8) throws(ModbusError) -> [UInt8]? {
        let frame = RTUFrame.encode(unit: unit, pdu: pdu)
        let settings = port.settings
        return try translatingErrors {
            guard try send(frame, unit: unit) else { return nil }
            let deadline = ContinuousClock.now + slaveTimeout + settings.characterTime * (frame.count + 256)
            let isReply = { (bytes: [UInt8]) in bytes.count >= 4 && bytes[0] == unit && bytes[1] & 0x7F == pdu.first && CRC16.isValid(bytes) }
            var heard: [UInt8] = []
            // A silence that cuts a frame (a scheduling gap on the way) does
            // not lose it: what follows is added until the whole is a reply.
            while !isReply(heard), let more = try frameEndedBySilence(until: deadline, t35: settings.t35) {
                heard += more
                if heard.starts(with: frame) { heard.removeFirst(frame.count) }
            }
            guard isReply(heard) else {
                if heard.isEmpty { throw ModbusError(.timeout, "no reply within \(slaveTimeout)") }
                throw ModbusError(.malformedReply, "no valid reply to function \(pdu.first ?? 0) ended by silence: \(heard.count) bytes")
            }
            return Array(heard[1..<(heard.count - 2)])
        }
    }

    /// Waits out the idle line (t3.5, or the inter-frame delay when longer),
    /// then sends `frame`. False for a broadcast, after its turnaround: no
    /// reply is to come.
    private func send(_ frame: [UInt8], unit: UInt8) throws -> Bool {
        try waitForIdleLine(max(port.settings.t35, interFrameDelay))
        try port.flush(.input)
        try port.write(frame)
        lastActivity = .now
        guard unit != 0 else {
            try port.readAway(for: turnaround)
            return false
        }
        return true
    }

    /// `body`'s failures as ModbusErrors: a line that fails is `.connection`.
    private func translatingErrors<T>(_ body: () throws -> T) throws(ModbusError) -> T {
        do {
            return try body()
        } catch let error as ModbusError {
            throw error
        } catch {
            throw ModbusError(.connection, "\(error)")
        }
    }

    /// The bytes from the first heard until t3.5 of silence; nil when none
    /// came before the deadline.
    private func frameEndedBySilence(until deadline: ContinuousClock.Instant, t35: Duration) throws -> [UInt8]? {
        var heard: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let wait = heard.isEmpty ? deadline : min(deadline, lastActivity + t35)
            let count = try buffer.withUnsafeMutableBytes { try port.read(into: $0, deadline: wait) }
            if count == 0 { return heard.isEmpty ? nil : heard }
            heard += buffer[0..<count]
            lastActivity = .now
        }
    }

    private func transact(_ request: Request, unit: UInt8, frame: [UInt8]) throws(ModbusError) -> Response? {
        let settings = port.settings
        return try translatingErrors {
            // Compiling the reply's grammar takes time: done while the line must stay idle anyway.
            framer.expectReply(to: request, unit: unit, sent: frame)
            guard try send(frame, unit: unit) else { return nil }
            let deadline = ContinuousClock.now + slaveTimeout + settings.characterTime * request.replyFrameLength
            let reply = try awaitReply(until: deadline, expecting: request.replyFrameLength)
            return try Response(pdu: reply.dropFirst().dropLast(2), for: request)
        }
    }

    /// Reads until the framer confirms a reply of (normally) `length` bytes.
    private func awaitReply(until deadline: ContinuousClock.Instant, expecting length: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 512)
        var heard = 0
        while true {
            let count = try buffer.withUnsafeMutableBytes { try port.read(into: $0, deadline: deadline) }
            guard count > 0 else {
                framer.timeout()
                throw ModbusError(.timeout, "no valid reply within \(slaveTimeout)")
            }
            lastActivity = .now
            if let reply = framer.receive(buffer[0..<count]).first { return reply }
            heard += count
            letTheRestArrive(length - heard, before: deadline)
        }
    }

    /// A reply under way: sleeps while `rest` bytes but one are still on the
    /// wire (at most 3 ms, which is all a shorter reply, an exception, can
    /// be kept waiting), so that a port that hands over each byte as it
    /// comes costs three wake-ups a reply, not one a byte (measured on a
    /// 115200-baud line of polls alone: 665 µs of CPU a transaction waking
    /// for each byte of its 25-byte replies, 320–375 µs waking four times
    /// with naps of at most 1 ms).
    private func letTheRestArrive(_ rest: Int, before deadline: ContinuousClock.Instant) {
        guard rest > 1 else { return }
        let nap = min(port.settings.characterTime * (rest - 1), .milliseconds(3), ContinuousClock.now.duration(to: deadline))
        guard nap > .microseconds(50) else { return }
        usleep(UInt32(nap.components.attoseconds / 1_000_000_000_000))
    }

    /// Waits until the line has been silent for t3.5, reading and dropping
    /// whatever is still on it (a late reply, another master's traffic); a line
    /// that never falls silent within 250 ms is stuck, and the request goes anyway.
    private func waitForIdleLine(_ t35: Duration) throws {
        let giveUp = ContinuousClock.now + .milliseconds(250)
        var quietSince = lastActivity
        var scratch = [UInt8](repeating: 0, count: 256)
        while true {
            let now = ContinuousClock.now
            let idleAt = quietSince + t35
            guard now < idleAt && now < giveUp else { return }
            let count = try scratch.withUnsafeMutableBytes { try port.read(into: $0, deadline: Self.wakeTime(now: now, idleAt: idleAt)) }
            if count > 0 { quietSince = .now }
        }
    }

    /// When to wake on the way to `idleAt`. A timed wait of milliseconds ends
    /// 50–130 µs late on a virtual machine (measured here, with a timer
    /// slack of 1 ns), one of 200 µs about 30 µs late: so a long wait stops
    /// 300 µs short, a short one then 40 µs short, and the rest is spent
    /// polling the port, so that the request leaves as the silence ends
    /// rather than a late wake-up after it.
    static func wakeTime(now: ContinuousClock.Instant, idleAt: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let left = idleAt - now
        if left > coarseMargin { return idleAt - coarseMargin }
        if left > fineMargin { return idleAt - fineMargin }
        return now
    }

    static let coarseMargin = Duration.microseconds(300)
    static let fineMargin = Duration.microseconds(40)
}
