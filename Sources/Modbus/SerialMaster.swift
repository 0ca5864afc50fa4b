import Serial

/// A master on a line that carries one transaction at a time: RTU or ASCII,
/// on a local port or a serial device server's socket.
public protocol SerialMaster: AnyObject {
    /// The line the master owns.
    var port: SerialPort { get }
    /// How long a unit may take to start answering; the frames' own time on the
    /// wire is added to it.
    var slaveTimeout: Duration { get set }
    /// What the master's framer has seen on the line.
    var counters: RTUFramer.Counters { get }
    /// Sends `request` to `unit`; the reply (maybe an `.exception`), or nil for a broadcast.
    func send(_ request: Request, unit: UInt8) throws(ModbusError) -> Response?
    /// A request of a function this implementation does not know, sent as it is.
    func passThrough(_ pdu: [UInt8], unit: UInt8) throws(ModbusError) -> [UInt8]?
    /// The request's and its reply's time on the wire, which a slave's latency leaves out.
    func wireTime(_ request: Request) -> Duration
}

extension RTUMaster: SerialMaster {
    /// The request's and its reply's frames on the wire, in character times.
    public func wireTime(_ request: Request) -> Duration {
        port.settings.characterTime * (request.pdu.count + 3 + request.replyFrameLength)
    }
}
