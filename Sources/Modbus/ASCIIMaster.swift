import Serial

/// A Modbus ASCII master on a serial port: one transaction at a time, each
/// frame ':' … CR LF with an LRC. Owned by one thread (a gateway's Bus).
///
/// Unlike RTU no silence frames anything: a reply is the first valid frame
/// from the unit for the request's function, found through noise by
/// `ASCIIFramer`; its characters may pause up to `characterTimeout` (the
/// spec's one second). Our own request heard back (local echo) is skipped.
public final class ASCIIMaster: SerialMaster {
    /// The line the master owns.
    public let port: SerialPort
    /// How long a unit may take to start answering; the frames' own time on the
    /// wire is added to it.
    public var slaveTimeout: Duration
    /// Extra attempts after a timeout or a malformed reply.
    public var retries: Int
    /// The pause after a broadcast, for every slave to act on it.
    public var turnaround: Duration
    private var framer: ASCIIFramer

    /// A master on `port`, which stays open and configured as it is; a reply's
    /// characters may pause up to `characterTimeout`.
    public init(port: SerialPort, slaveTimeout: Duration = .seconds(1), retries: Int = 0, turnaround: Duration = .milliseconds(100),
                characterTimeout: Duration = .seconds(1)) {
        self.port = port
        self.slaveTimeout = slaveTimeout
        self.retries = retries
        self.turnaround = turnaround
        framer = ASCIIFramer(characterTimeout: characterTimeout)
    }

    /// What the master's framer has seen on the line.
    public var counters: RTUFramer.Counters { framer.counters }

    /// Sends `request` to `unit`; the reply (maybe an `.exception`), or nil for a
    /// broadcast. Retries after a timeout or a malformed reply.
    public func send(_ request: Request, unit: UInt8) throws(ModbusError) -> Response? {
        var lastError = ModbusError(.timeout, "no reply")
        for _ in 0...max(0, retries) {
            do {
                guard let pdu = try transact(request.pdu, unit: unit, replyCharacters: 2 * request.replyFrameLength + 1) else { return nil }
                return try Response(pdu: pdu[...], for: request)
            } catch where error.code == .timeout || error.code == .malformedReply {
                lastError = error
            }
        }
        throw lastError
    }

    /// A request of a function this implementation does not know, sent as it is:
    /// the reply is the first valid frame from `unit` for that function (or its
    /// exception); nil for a broadcast.
    public func passThrough(_ pdu: [UInt8], unit: UInt8) throws(ModbusError) -> [UInt8]? {
        try transact(pdu, unit: unit, replyCharacters: 2 * (Limits.pduBytes + 3) + 3)
    }

    /// The request's and its reply's characters on the wire: two hex digits a
    /// byte, with ':', the LRC and CR LF.
    public func wireTime(_ request: Request) -> Duration {
        port.settings.characterTime * (2 * request.pdu.count + 7 + 2 * request.replyFrameLength + 1)
    }

    /// Sends the frame and waits for the reply PDU (nil for a broadcast).
    private func transact(_ pdu: [UInt8], unit: UInt8, replyCharacters: Int) throws(ModbusError) -> [UInt8]? {
        let frame = ModbusASCII.encode(unit: unit, pdu: pdu)
        do {
            try port.flush(.input)
            try port.write(frame)
            guard unit != 0 else {
                try port.readAway(for: turnaround)
                return nil
            }
            let deadline = ContinuousClock.now + slaveTimeout + port.settings.characterTime * (frame.count + replyCharacters)
            return try awaitReply(from: unit, to: pdu, until: deadline)
        } catch let error as ModbusError {
            throw error
        } catch {
            throw ModbusError(.connection, "\(error)")
        }
    }

    private func awaitReply(from unit: UInt8, to pdu: [UInt8], until deadline: ContinuousClock.Instant) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 512)
        // Writes of one coil or register and diagnostics are answered with the
        // request itself: there an identical frame is the reply, not an echo.
        let answeredWithItself = [0x05, 0x06, 0x08].contains(pdu.first)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try port.read(into: $0, deadline: deadline) }
            guard count > 0 else {
                framer.timeout()
                throw ModbusError(.timeout, "no valid reply within \(slaveTimeout)")
            }
            for frame in framer.receive(buffer[0..<count]) {
                if frame.unit == unit && frame.pdu == pdu && !answeredWithItself {
                    framer.countEcho()
                } else if frame.unit == unit && frame.pdu.first.map({ $0 & 0x7F }) == pdu.first {
                    return frame.pdu
                }
            }
        }
    }
}
