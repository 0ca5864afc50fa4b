import Serial

/// A Modbus/RTU slave on a serial port: answers requests for its units,
/// ignores every other frame on the bus, and never answers a broadcast
/// (unit 0), though it carries it out. Runs on the thread that calls `serve`.
public final class RTUSlave {
    /// The line the slave serves.
    public let port: SerialPort
    private var framer: RTUFramer
    /// The reply PDU to a request for a unit; nil stays silent (always, for a broadcast).
    private let answer: (_ unit: UInt8, _ pdu: [UInt8]) -> [UInt8]?
    private let faultSwitch: FaultSwitch

    /// Serves the devices of `units`; `faults` make every reply misbehave (the simulator's `--evil`).
    public convenience init(port: SerialPort, units: UnitMap, faults: [ModbusFault] = []) {
        self.init(port: port, serving: units.units, faults: faults, answer: units.answerer())
    }

    /// As above, with faults that may change while it serves (the simulator's web API).
    public convenience init(port: SerialPort, units: UnitMap, faultSwitch: FaultSwitch) {
        self.init(port: port, serving: units.units, faultSwitch: faultSwitch, answer: units.answerer())
    }

    /// Answers the requests for `units` (and broadcasts) with `answer`: the
    /// gateway's serial slave face answers from its routes.
    public convenience init(port: SerialPort, serving units: Set<UInt8>, faults: [ModbusFault] = [],
                            answer: @escaping (_ unit: UInt8, _ pdu: [UInt8]) -> [UInt8]?) {
        self.init(port: port, serving: units, faultSwitch: FaultSwitch(faults), answer: answer)
    }

    /// Answers the requests for `units` (and carries out broadcasts) with
    /// `answer`, each reply damaged by the faults `faultSwitch` holds at that moment.
    public init(port: SerialPort, serving units: Set<UInt8>, faultSwitch: FaultSwitch,
                answer: @escaping (_ unit: UInt8, _ pdu: [UInt8]) -> [UInt8]?) {
        self.port = port
        self.faultSwitch = faultSwitch
        self.answer = answer
        framer = RTUFramer(servingUnits: units)
    }

    /// What the slave's framer has seen on the line.
    public var counters: RTUFramer.Counters { framer.counters }

    /// Serves while `shouldContinue` says so (checked at least every 100 ms) or the line fails.
    public func serve(while shouldContinue: () -> Bool) throws(SerialError) {
        let t35 = port.settings.t35
        var heardAt: ContinuousClock.Instant?
        while shouldContinue() {
            // After a byte, wait t3.5 for the next; a silence that long ends a frame.
            let deadline = heardAt.map { $0 + t35 } ?? .now + .milliseconds(100)
            let bytes = try port.read(limit: 512, deadline: deadline)
            if bytes.isEmpty {
                if heardAt != nil, let frame = framer.silence() { try answer(frame) }
                heardAt = nil
                continue
            }
            heardAt = .now
            for frame in framer.receive(bytes) {
                // The spec keeps frames t3.5 apart: a reply, however quick, waits that long.
                let silent = ContinuousClock.now.duration(to: heardAt! + t35)
                if silent > .zero { sleepThread(for: silent) }
                try answer(frame)
            }
        }
    }

    /// Serves one frame (unit, PDU, CRC): replies, or for a broadcast, carries
    /// it out and stays silent.
    private func answer(_ frame: [UInt8]) throws(SerialError) {
        let unit = frame[0]
        guard let pdu = answer(unit, Array(frame.dropFirst().dropLast(2))), unit != 0 else { return }
        let reply = RTUFrame.encode(unit: unit, pdu: pdu)
        guard faultSwitch.isActive else { return try port.write(reply) }
        let faults = faultSwitch.current
        if faults.staysSilent() { return }
        let delay = faults.nextDelay()
        if delay > .zero { sleepThread(for: delay) }
        try port.write(faults.damageRTU(reply))
    }
}

extension UnitMap {
    /// A serial slave's answers from these devices: the reply PDU, or for a
    /// broadcast (unit 0), nil after every device has carried it out.
    public func answerer() -> (_ unit: UInt8, _ pdu: [UInt8]) -> [UInt8]? {
        let serving = DeviceServing(units: self)
        return { unit, pdu in
            guard unit == 0 else { return serving.reply(unit: unit, pdu: pdu) }
            var seen = Set<ObjectIdentifier>()
            for device in devices.values where seen.insert(ObjectIdentifier(device)).inserted {
                _ = DeviceServing(units: UnitMap(fallback: device)).reply(unit: 0, pdu: pdu)
            }
            return nil
        }
    }
}
