#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization

/// A way for a simulated device to misbehave, after cpppo's `modbus_sim --evil`,
/// so that masters and gateways can be tested against the devices plant
/// engineers actually meet. Written `truncate`, `delay[:SECONDS[-SECONDS]]`
/// (default 5 s; a range draws a delay for each reply), `corrupt[:FIELD]`, or
/// `silent[:FRACTION]` (ours: no reply at all to that fraction of requests,
/// default all of them, as a slave with a loose wire).
public enum ModbusFault: Hashable, Sendable, CustomStringConvertible {
    /// Only the first half of each reply is sent.
    case truncate
    /// Each reply waits a delay drawn from the range, in seconds.
    case delay(ClosedRange<Double>)
    /// One field of each reply is wrong.
    case corrupt(Field)
    /// This fraction of requests (0–1) gets no reply at all.
    case silent(Double)

    /// What `corrupt` damages. On RTU, `crc` flips a bit of the data and
    /// leaves the CRC as it was (the master sees a CRC error); the other
    /// fields are damaged under a correct CRC. `transaction` and `protocol`
    /// exist only in Modbus/TCP's MBAP header.
    public enum Field: String, CaseIterable, Sendable {
        /// A field of the reply: the MBAP transaction id or protocol id (Modbus/TCP
        /// only), the unit, the function code, the register data (one register too
        /// many), or the CRC (RTU only).
        case transaction, `protocol`, unit, function, registers, crc
    }

    /// The fault as `--evil` writes it: "delay:0.1-0.5".
    public var description: String {
        switch self {
        case .truncate: "truncate"
        case .delay(let range) where range.lowerBound == range.upperBound: "delay:\(range.lowerBound)"
        case .delay(let range): "delay:\(range.lowerBound)-\(range.upperBound)"
        case .corrupt(let field): "corrupt:\(field.rawValue)"
        case .silent(let fraction): "silent:\(fraction)"
        }
    }

    /// Reads one fault as written for `--evil`, e.g. `corrupt:crc` or `silent:0.3`.
    public init(parsing text: String) throws(ModbusFaultError) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let argument = parts.count > 1 ? parts[1] : nil
        switch parts.first ?? "" {
        case "truncate" where argument == nil:
            self = .truncate
        case "delay":
            self = .delay(try Self.seconds(argument ?? "5", in: text))
        case "corrupt":
            guard let field = Field(rawValue: argument ?? "transaction") else {
                let names = Field.allCases.map(\.rawValue).joined(separator: ", ")
                throw ModbusFaultError(text: text, reason: "corrupt takes one of \(names)")
            }
            self = .corrupt(field)
        case "silent":
            guard let fraction = Double(argument ?? "1"), (0...1).contains(fraction) else {
                throw ModbusFaultError(text: text, reason: "silent takes the fraction of requests left unanswered, 0 to 1")
            }
            self = .silent(fraction)
        default:
            throw ModbusFaultError(text: text, reason: "expected truncate, delay[:SECONDS[-SECONDS]], corrupt[:FIELD] or silent[:FRACTION]")
        }
    }

    private static func seconds(_ text: String, in whole: String) throws(ModbusFaultError) -> ClosedRange<Double> {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false).map { Double($0) }
        // At most a day: a longer delay (or one not finite) would overflow the nanoseconds it is waited in.
        guard (1...2).contains(bounds.count), let low = bounds.first!, let high = bounds.last!,
              low >= 0, low <= high, high.isFinite, high <= 86_400 else {
            throw ModbusFaultError(text: whole, reason: "the delay is SECONDS or LOW-HIGH of 0 to 86400, e.g. 0.5 or 0.1-0.5")
        }
        return low...high
    }

    /// Whether this fault can be done to a reply on this transport.
    public func applies(toTCP tcp: Bool) -> Bool {
        switch self {
        case .corrupt(.transaction), .corrupt(.protocol): tcp
        case .corrupt(.crc): !tcp
        default: true
        }
    }
}

/// An `--evil` text that names no fault.
public struct ModbusFaultError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text as given.
    public let text: String
    /// What is wrong with it, and the forms expected.
    public let reason: String
    /// The text, quoted, and the reason.
    public var description: String { "\"\(text)\": \(reason)" }
}

extension [ModbusFault] {
    /// The delay to wait before sending the next reply: the sum of every
    /// `delay` fault's draw.
    public func nextDelay() -> Duration {
        var seconds = 0.0
        for case .delay(let range) in self { seconds += Double.random(in: range) }
        return .seconds(seconds)
    }

    /// Whether this reply is not to be sent at all (a `silent` fault's draw).
    public func staysSilent() -> Bool {
        contains { fault in
            if case .silent(let fraction) = fault { return Double.random(in: 0..<1) < fraction }
            return false
        }
    }

    /// A Modbus/TCP reply (MBAP header, unit, PDU) as the faults make it.
    public func damageTCP(_ adu: [UInt8]) -> [UInt8] {
        var bytes = adu
        for fault in self { fault.damage(&bytes, tcp: true) }
        return bytes
    }

    /// An RTU reply (unit, PDU, CRC) as the faults make it.
    public func damageRTU(_ adu: [UInt8]) -> [UInt8] {
        var bytes = adu
        for fault in self { fault.damage(&bytes, tcp: false) }
        return bytes
    }
}

extension ModbusFault {
    /// Damages one reply in place. Offsets: a Modbus/TCP reply is
    /// transaction 0-1, protocol 2-3, length 4-5, unit 6, PDU from 7; an RTU
    /// reply is unit 0, PDU from 1, CRC in the last two bytes.
    func damage(_ adu: inout [UInt8], tcp: Bool) {
        let unitAt = tcp ? 6 : 0
        guard adu.count > unitAt + 1, applies(toTCP: tcp) else { return }
        switch self {
        case .delay, .silent:
            return
        case .truncate:
            adu.removeLast(adu.count - adu.count / 2)
            return
        case .corrupt(.transaction): adu[1] ^= 0x01
        case .corrupt(.protocol): adu[3] ^= 0x01
        case .corrupt(.unit): adu[unitAt] ^= 0x01
        case .corrupt(.function): adu[unitAt + 1] ^= 0x01
        case .corrupt(.registers): addRegister(&adu, tcp: tcp)
        case .corrupt(.crc):
            adu[adu.count - 3] ^= 0x01
            return
        }
        if !tcp { resealCRC(&adu) }
    }

    /// One more register than was asked for: two bytes of data, counted in
    /// the byte count (and the MBAP length), so the reply is well formed but
    /// does not answer its request.
    private func addRegister(_ adu: inout [UInt8], tcp: Bool) {
        let countAt = (tcp ? 6 : 0) + 2
        // Only replies to reads carry a byte count there.
        guard adu.count > countAt, [1, 2, 3, 4, 23].contains(adu[countAt - 1]) else { return }
        adu[countAt] &+= 2
        adu.insert(contentsOf: [0xEE, 0xEE], at: tcp ? adu.count : adu.count - 2)
        if tcp {
            let length = UInt16(adu.count - 6)
            adu[4] = UInt8(length >> 8)
            adu[5] = UInt8(length & 0xFF)
        }
    }

    private func resealCRC(_ adu: inout [UInt8]) {
        adu = RTUFrame.encode(unit: adu[0], pdu: Array(adu[1..<(adu.count - 2)]))
    }
}

/// A simulator's faults, changed while it serves (its web API switches
/// them): every reply looks at the faults of the moment.
public final class FaultSwitch: Sendable {
    private let faults: Mutex<[ModbusFault]>
    private let active: Atomic<Bool>

    /// A switch that starts with `faults` (none: replies are as they should be).
    public init(_ faults: [ModbusFault] = []) {
        self.faults = Mutex(faults)
        active = Atomic(!faults.isEmpty)
    }

    /// The faults now.
    public var current: [ModbusFault] { isActive ? faults.withLock { $0 } : [] }

    /// Whether there are any (one atomic load: the fault-free path stays cheap).
    public var isActive: Bool { active.load(ordering: .relaxed) }

    /// Replaces the faults; the next reply sees the new ones.
    public func set(_ new: [ModbusFault]) {
        faults.withLock { faults in
            faults = new
            active.store(!new.isEmpty, ordering: .relaxed)
        }
    }
}

/// Serves as `base` does, each reply after the faults' delay.
struct DelayedServing: ModbusServing {
    let base: any ModbusServing
    let faultSwitch: FaultSwitch

    init(base: any ModbusServing, faults: FaultSwitch) {
        self.base = base
        faultSwitch = faults
    }

    func serve(unit: UInt8, pdu: [UInt8], from connection: ModbusConnection, on eventLoop: any EventLoop) -> Served {
        let faults = faultSwitch.current
        if faults.staysSilent() { return .now(nil) }
        let delay = faults.nextDelay()
        guard delay > .zero else { return base.serve(unit: unit, pdu: pdu, from: connection, on: eventLoop) }
        return .later(eventLoop.scheduleTask(in: .nanoseconds(delay.nanoseconds)) {}.futureResult.flatMap {
            base.serve(unit: unit, pdu: pdu, from: connection, on: eventLoop).future(on: eventLoop)
        })
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

/// Blocks the calling thread (a simulated slave's own) for `duration`.
func sleepThread(for duration: Duration) {
    var request = timespec(tv_sec: Int(duration.components.seconds), tv_nsec: Int(duration.components.attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}
