import Discovery
import Serial

extension Configuration {
    /// The gateway as a Modbus/RTU slave on a serial port (`[[serial_slave]]`,
    /// Moxa's "RTU slave mode"): an old serial master reaches, through the
    /// routes, devices on any kind of line.
    public struct SerialSlave: Sendable, Hashable {
        /// What a serial master hears when the gateway cannot reach a device.
        public enum Absent: String, Sendable, Hashable, CaseIterable {
            /// Nothing, as from a slave that is not there (what serial masters expect).
            case silence
            /// The gateway's exception, 0x0A or 0x0B.
            case exception
        }

        /// The port the gateway answers on, as configuration names it.
        public var adapter: AdapterMatcher
        /// The line's speed and framing (8 data bits: RTU).
        public var settings: SerialSettings
        /// Kernel RS485 settings for the port; nil leaves the driver's.
        public var rs485: RS485Settings?
        /// The unit ids answered; each must be routed.
        public var units: ClosedRange<UInt8>
        /// What a master hears for a unit the gateway cannot reach (silence by default).
        public var absent: Absent
    }

    static func serialSlave(_ source: TOMLReader) throws(ConfigurationError) -> SerialSlave {
        var reader = source
        let text = try reader.required("adapter") { reader, key throws(ConfigurationError) in try reader.string(key) }
        let adapter: AdapterMatcher
        do { adapter = try AdapterMatcher(parsing: text) } catch { throw reader.error("adapter", error.reason) }
        let settings = try Self.serialSettings(.serial, &reader)
        let rs485 = try Self.rs485(&reader)
        let units = try Self.units(&reader).range
        let absentText = try reader.string("absent") ?? "silence"
        guard let absent = SerialSlave.Absent(rawValue: absentText) else {
            throw reader.error("absent", "\"\(absentText)\" is not one of silence, exception")
        }
        try reader.finish()
        return SerialSlave(adapter: adapter, settings: settings, rs485: rs485, units: units, absent: absent)
    }

    /// Every unit a serial slave answers is routed, and no port is both a line and a serial slave.
    func checkSerialSlaves(_ root: TOMLReader, routed: Set<UInt8>) throws(ConfigurationError) {
        let lineAdapters = Set(lines.filter { $0.remote == nil }.map(\.adapter))
        for (index, slave) in serialSlaves.enumerated() {
            if let unit = slave.units.first(where: { !routed.contains($0) }) {
                throw root.error("serial_slave[\(index)].units", "unit \(unit) has no [[route]] to a line")
            }
            if lineAdapters.contains(slave.adapter) {
                throw root.error("serial_slave[\(index)].adapter", "\(slave.adapter) is a [[line]]'s adapter too")
            }
            if let first = serialSlaves.firstIndex(where: { $0.adapter == slave.adapter }), first < index {
                throw root.error("serial_slave[\(index)].adapter", "\(slave.adapter) is serial_slave[\(first)]'s adapter too")
            }
        }
    }
}
