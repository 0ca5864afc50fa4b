import Modbus
import Serial

/// What carries a line's transactions: a serial master (RTU or ASCII, on a
/// local port or a device server's socket) or a Modbus/TCP connection. The
/// Bus does everything else (queue, health, breaker, metrics) the same on each.
///
/// A link is used from the Bus's thread; `done` may be called there, inside
/// `start`, or on a thread of the link's own.
public protocol LineLink: AnyObject {
    /// Where the line's frames go, for the logs and status: a path or HOST:PORT.
    var address: String { get }
    /// Transactions that may be in flight at once.
    var capacity: Int { get }
    /// Transactions in flight now.
    var inFlight: Int { get }
    /// Unit 0 is a broadcast that nobody answers (RTU and ASCII), not a unit like the others (Modbus/TCP).
    var broadcasts: Bool { get }
    /// The answer for a transaction the link lost on its way: 0x0A for an
    /// adapter unplugged, 0x0B for a remote that closed mid-transaction.
    var lossException: ExceptionCode { get }
    /// Frames, noise, CRC errors, echoes, timeouts and stray replies so far.
    var counters: RTUFramer.Counters { get }
    /// Starts `transaction`; `done` gets its outcome once, when it ends.
    func start(_ transaction: LinkTransaction, done: @escaping @Sendable (LinkOutcome) -> Void)
    /// Fails the transactions whose deadline has passed; the earliest deadline of the others.
    func expire(at now: ContinuousClock.Instant) -> ContinuousClock.Instant?
    /// Ends the link; transactions still in flight are lost (`.connection`).
    func close()
}

/// One request as the Bus hands it to its link.
public struct LinkTransaction: Sendable {
    /// The request PDU, sent as it is.
    public var pdu: [UInt8]
    /// The unit: the slave address (0: a broadcast on a serial line).
    public var unit: UInt8
    /// Parsed when the gateway knows the function; nil passes the PDU through as it is.
    public var request: Request?
    /// How long the slave may take to answer, beyond the frames' time on the wire;
    /// learned by the slave's ``SlaveHealth``.
    public var timeout: Duration
}

/// How a transaction ended, as a link reports it to its Bus.
public struct LinkOutcome: Sendable {
    /// The reply PDU (a slave's exception among them; nil for a broadcast), or why there is none.
    public var reply: Result<[UInt8]?, ModbusError>
    /// The slave's own time: the round trip less the frames' time on the wire.
    public var latency: Duration
    /// Something came back from the slave, if damaged: it is there.
    public var heard: Bool
    /// The link's counters once this transaction ended, so that whoever hears
    /// of the reply can read figures that include it.
    public var counters: RTUFramer.Counters
}

/// A serial master as a line's link: one transaction at a time, done before
/// `start` returns.
final class SerialLink: LineLink {
    let master: any SerialMaster
    let lossException = ExceptionCode.gatewayPathUnavailable
    let capacity = 1
    let inFlight = 0
    let broadcasts = true

    init(master: any SerialMaster) { self.master = master }

    var address: String { master.port.path }
    var counters: RTUFramer.Counters { master.counters }

    func start(_ transaction: LinkTransaction, done: @escaping @Sendable (LinkOutcome) -> Void) {
        master.slaveTimeout = transaction.timeout
        let start = ContinuousClock.now
        let damagedBefore = master.counters.crcErrors
        do {
            let reply: [UInt8]?
            var wire = Duration.zero
            if let request = transaction.request {
                reply = try master.send(request, unit: transaction.unit)?.pdu(for: request)
                wire = master.wireTime(request)
            } else {
                reply = try master.passThrough(transaction.pdu, unit: transaction.unit)
            }
            done(LinkOutcome(reply: .success(reply), latency: max(.zero, ContinuousClock.now - start - wire), heard: true, counters: master.counters))
        } catch {
            let heard = error.code == .malformedReply || master.counters.crcErrors > damagedBefore
            done(LinkOutcome(reply: .failure(error), latency: ContinuousClock.now - start, heard: heard, counters: master.counters))
        }
    }

    func expire(at now: ContinuousClock.Instant) -> ContinuousClock.Instant? { nil }

    func close() {}
}

extension Bus {
    /// Modbus/RTU on `port`, a local one or a device server's socket.
    public static func rtu(_ port: SerialPort, _ options: Options) -> any LineLink {
        let master = RTUMaster(port: port, slaveTimeout: options.health.maximumTimeout, retries: options.retries, turnaround: options.turnaround)
        master.interFrameDelay = options.interFrameDelay
        return SerialLink(master: master)
    }

    /// Modbus ASCII on `port`; a frame's characters may pause up to `characterTimeout`.
    public static func ascii(_ port: SerialPort, _ options: Options, characterTimeout: Duration) -> any LineLink {
        SerialLink(master: ASCIIMaster(port: port, slaveTimeout: options.health.maximumTimeout, retries: options.retries,
                                       turnaround: options.turnaround, characterTimeout: characterTimeout))
    }

    /// A remote Modbus/TCP device or gateway, with up to `maxInFlight` requests on its connection at once.
    public static func modbusTCP(host: String, port: Int, connectTimeout: Duration, maxInFlight: Int,
                                 onBreak: @escaping @Sendable (String) -> Void) throws -> any LineLink {
        try MBAPLink(host: host, port: port, connectTimeout: connectTimeout, capacity: maxInFlight, onBreak: onBreak)
    }
}
