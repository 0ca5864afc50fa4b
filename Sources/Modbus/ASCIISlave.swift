import Serial

/// A Modbus ASCII slave on a serial port: answers the frames for its units
/// (found through noise by `ASCIIFramer`), ignores every other frame, and
/// never answers a broadcast (unit 0), though it carries it out. Runs on the
/// thread that calls `serve`.
public final class ASCIISlave {
    /// The line the slave serves.
    public let port: SerialPort
    private let units: Set<UInt8>
    private var framer: ASCIIFramer
    private let answer: (_ unit: UInt8, _ pdu: [UInt8]) -> [UInt8]?

    /// Serves the devices of `units`, each unit of the map that has its own device.
    public convenience init(port: SerialPort, units: UnitMap, characterTimeout: Duration = .seconds(1)) {
        self.init(port: port, serving: units.units, characterTimeout: characterTimeout, answer: units.answerer())
    }

    /// Answers the requests for `units` (and carries out broadcasts) with
    /// `answer`, which returns the reply PDU, or nil to stay silent.
    public init(port: SerialPort, serving units: Set<UInt8>, characterTimeout: Duration = .seconds(1),
                answer: @escaping (_ unit: UInt8, _ pdu: [UInt8]) -> [UInt8]?) {
        self.port = port
        self.units = units
        self.answer = answer
        framer = ASCIIFramer(characterTimeout: characterTimeout)
    }

    /// What the slave's framer has seen on the line.
    public var counters: RTUFramer.Counters { framer.counters }

    /// Serves until `shouldContinue` says no (checked at least every 100 ms) or the line fails.
    public func serve(while shouldContinue: () -> Bool) throws(SerialError) {
        while shouldContinue() {
            let bytes = try port.read(limit: 512, deadline: .now + .milliseconds(100))
            guard !bytes.isEmpty else { continue }
            for frame in framer.receive(bytes) where frame.unit == 0 || units.contains(frame.unit) {
                guard let reply = answer(frame.unit, frame.pdu), frame.unit != 0 else { continue }
                try port.write(ModbusASCII.encode(unit: frame.unit, pdu: reply))
            }
        }
    }
}
