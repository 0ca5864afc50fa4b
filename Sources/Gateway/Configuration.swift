import Discovery
import Foundation
import Logging
import Modbus
import Serial
import TOMLKit

/// The gateway's configuration (`etc/fieldgw.toml` documents every key):
/// serial lines, the routes from Modbus/TCP unit ids to them, the listeners
/// and logging. Reading it checks everything it can without hardware; an
/// error names the file, the key and the reason.
public struct Configuration: Sendable {
    /// One `[[line]]`: a local serial port, a serial device server or a
    /// Modbus/TCP device, and how its ``Bus`` runs.
    public struct Line: Sendable, Hashable {
        /// What carries the line's frames.
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            /// Modbus/RTU on a local serial port.
            case serial
            /// Modbus ASCII on a local serial port.
            case serialASCII = "serial-ascii"
            /// Modbus/RTU frames over TCP to a serial device server.
            case rtuOverTCP = "rtu-over-tcp"
            /// A remote Modbus/TCP device or gateway; the slave is the unit id.
            case tcp
        }

        /// The line's name, by which routes, polls and devices name it.
        public var name: String
        /// What carries the line's frames (`kind`; serial by default).
        public var kind: Kind = .serial
        /// Where a local line's port is (for the TCP kinds, the address written as a node).
        public var adapter: AdapterMatcher
        /// Speed and framing; a `tcp` line has none, and keeps the defaults.
        public var settings: SerialSettings
        /// Kernel RS485 settings for a local port; nil leaves the driver's.
        public var rs485: RS485Settings?
        /// How the line's Bus queues, times out, retries and reopens.
        public var options: Bus.Options
        /// For the TCP kinds: where the line's frames go.
        public var remote: Remote?
        /// `serial-ascii`: the longest pause between two characters of one frame.
        public var characterTimeout: Duration = .seconds(1)
    }

    /// A serial device server's (ser2net, a Moxa NPort in raw TCP mode) or a Modbus/TCP device's address.
    public struct Remote: Sendable, Hashable {
        /// The host name or address.
        public var host: String
        /// The TCP port.
        public var port: Int
        /// How long a connection may take (`connect_timeout_ms`).
        public var connectTimeout: Duration
        /// `tcp`: requests on the connection at once, matched by transaction id.
        public var maxInFlight: Int = 1
    }

    /// One `[[route]]`: Modbus/TCP unit ids sent to the slaves of a line.
    public struct Route: Sendable, Hashable {
        /// The unit ids routed (`units`, one id or LOW-HIGH).
        public var units: ClosedRange<UInt8>
        /// The line they go to.
        public var line: String
        /// Slave address = unit id − offset.
        public var offset: Int
    }

    /// Addresses of one slave polled in the background (cpppo's poller).
    public struct Poll: Sendable, Hashable {
        /// The line the slave is on.
        public var line: String
        /// The slave's address, 1 to 247.
        public var slave: UInt8
        /// The addresses polled, ranges written in the file spelt out one by one.
        public var addresses: [ModbusAddress]
        /// How often they are read (`period_s`).
        public var period: Duration
        /// How far from a read's first address another may be and still join the
        /// read (`reach`; see ``PollPlan``).
        public var reach: Int
        /// Agent mode: TCP reads of these values are answered from the poll
        /// cache while the values are younger than this.
        public var agentAge: Duration?
    }

    /// One `[[listener]]`: a Modbus/TCP server in front of the routes.
    public struct Listener: Sendable, Hashable {
        /// The address bound (`bind`; 0.0.0.0 by default).
        public var host: String
        /// The port bound (502 by default).
        public var port: Int
        /// Clients at once; a new one beyond them closes the longest idle.
        public var connectionLimit: Int
        /// How long a client may stay idle, and may take to send one request.
        public var timeouts = ModbusTCPServer.Timeouts()
        /// Client addresses allowed (IPv4 CIDR or exact addresses); empty allows all.
        public var allow: [AddressRange]
        /// Writes are refused with exception 1.
        public var readOnly: Bool
    }

    /// The log level (`[logging] level`), info by default.
    public var logLevel: Logger.Level = .info
    /// The web server (dashboard, JSON API, /metrics, `fieldgw status`); nil turns it off.
    public var web: Web? = Web()
    /// The `[[line]]` tables, in the file's order.
    public var lines: [Line] = []
    /// The `[[route]]` tables; no unit id is routed twice.
    public var routes: [Route] = []
    /// The `[[poll]]` tables.
    public var polls: [Poll] = []
    /// The `[[listener]]` tables; no two are the same.
    public var listeners: [Listener] = []
    /// The EtherNet/IP server, when [enip] or a [[device]] is configured.
    public var enip: ENIP?
    /// The `[[device]]` tables: slaves offered as EtherNet/IP structure tags.
    public var devices: [Device] = []
    /// The `[[assembly]]` tables: slaves' registers exchanged over Class 1 I/O connections.
    public var assemblies: [IOAssembly] = []
    /// The gateway as a slave to serial masters (`[[serial_slave]]`).
    public var serialSlaves: [SerialSlave] = []
    /// The broker the devices are published to (Sparkplug B or JSON); nil: none.
    public var mqtt: MQTT?
    /// `[history]`: polled changes and writes recorded (nil: none).
    public var history: History?
    /// True when [[device]] or [[assembly]] asked for the EtherNet/IP server and no [enip] said where.
    public private(set) var enipBindIsDefault = false

    /// Where an EtherNet/IP server nobody placed listens: where every Modbus/TCP
    /// listener does, when they agree, else loopback. Never every interface
    /// unasked, since its tags are read and written by anyone who reaches it.
    private var defaultENIPHost: String {
        let hosts = Set(listeners.map(\.host))
        guard hosts.count == 1, let host = hosts.first else { return "127.0.0.1" }
        return host
    }

    /// The empty configuration the readers fill in.
    init() {}

    /// Reads and checks the file at `path`.
    public init(file path: String) throws(ConfigurationError) {
        try self.init(toml: try Self.text(of: path), file: path)
    }

    /// The file's text, or why it has none in words an operator acts on
    /// (Foundation's own are "The file isn't in the correct format").
    private static func text(of path: String) throws(ConfigurationError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigurationError(file: path, key: "", reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw ConfigurationError(file: path, key: "", reason: "is a directory, not a configuration file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, key: "", reason: "cannot be read (permission denied?)")
        }
        guard !data.contains(0), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, key: "", reason: "is not a text file (TOML is UTF-8 text; is this a binary?)")
        }
        return text
    }

    /// Reads and checks `text`, naming `file` in its errors.
    public init(toml text: String, file: String) throws(ConfigurationError) {
        if let (line, reason) = TOMLHeaderCheck.problem(in: text) {
            throw ConfigurationError(file: file, key: "", reason: "line \(line): \(reason)")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(file: file, key: "", reason: "line \(error.source.begin.line): \(error.description)")
        } catch {
            throw ConfigurationError(file: file, key: "", reason: "\(error)")
        }
        var root = TOMLReader(file: file, path: "", table: table)
        if var logging = try root.subtable("logging") {
            logLevel = try Self.level(&logging)
            try logging.finish()
        }
        web = try Self.web(&root)
        lines = try root.tables("line").map { reader throws(ConfigurationError) in try Self.line(reader) }
        routes = try root.tables("route").map { reader throws(ConfigurationError) in try Self.route(reader) }
        polls = try root.tables("poll").map { reader throws(ConfigurationError) in try Self.poll(reader) }
        listeners = try root.tables("listener").map { reader throws(ConfigurationError) in try Self.listener(reader) }
        if let table = try root.subtable("enip") { enip = try Self.enip(table) }
        devices = try root.tables("device").map { reader throws(ConfigurationError) in try Self.device(reader) }
        assemblies = try root.tables("assembly").map { reader throws(ConfigurationError) in try Self.assembly(reader) }
        serialSlaves = try root.tables("serial_slave").map { reader throws(ConfigurationError) in try Self.serialSlave(reader) }
        if let table = try root.subtable("mqtt") { mqtt = try Self.mqtt(table) }
        if let table = try root.subtable("history") { history = try Self.history(table) }
        if enip == nil && !(devices.isEmpty && assemblies.isEmpty) {
            enip = ENIP(host: defaultENIPHost, port: 44818, connectionLimit: 64)
            enipBindIsDefault = true
        }
        try root.finish()
        try check(root)
    }

    private static func level(_ reader: inout TOMLReader) throws(ConfigurationError) -> Logger.Level {
        guard let text = try reader.string("level") else { return .info }
        guard let level = Logger.Level(rawValue: text) else {
            throw reader.error("level", "\"\(text)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
        return level
    }

    static func hostAndPort(_ text: String) -> (host: String, port: Int)? { Endpoint.parse(text) }

    private static func line(_ source: TOMLReader) throws(ConfigurationError) -> Line {
        var reader = source
        let name = try reader.required("name") { reader, key throws(ConfigurationError) in try reader.string(key) }
        let kindText = try reader.string("kind") ?? "serial"
        guard let kind = Line.Kind(rawValue: kindText) else {
            throw reader.error("kind", "\"\(kindText)\" is not one of \(Line.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let (adapter, remote) = try Self.whereTheLineIs(kind, &reader)
        var line = Line(name: name, kind: kind, adapter: adapter, settings: try Self.serialSettings(kind, &reader), rs485: nil,
                        options: try Self.busOptions(&reader), remote: remote)
        line.rs485 = try Self.rs485(&reader)
        if kind != .serial && kind != .serialASCII && line.rs485 != nil {
            throw reader.error("rs485", "a line of kind \(kind.rawValue) has no local port to set RS485 on")
        }
        if kind == .serialASCII {
            line.characterTimeout = .milliseconds(try reader.int("char_timeout_ms", in: 1...10_000) ?? 1000)
        }
        if kind == .tcp || kind == .rtuOverTCP {
            line.options.reopenMaximum = .milliseconds(try reader.int("reconnect_max_ms", in: 100...600_000) ?? 10_000)
        }
        try reader.finish()
        return line
    }

    /// Speed and framing, which a `tcp` line has none of.
    static func serialSettings(_ kind: Line.Kind, _ reader: inout TOMLReader) throws(ConfigurationError) -> SerialSettings {
        var settings = SerialSettings()
        if kind == .tcp {
            for key in ["baud", "parity", "stop_bits", "data_bits"] where reader.has(key) {
                throw reader.error(key, "a tcp line carries Modbus/TCP, which has no \(key)")
            }
            return settings
        }
        settings.baud = try reader.int("baud", in: 50...4_000_000) ?? 19200
        if let parity = try reader.string("parity") {
            guard let value = SerialSettings.Parity(rawValue: parity) else {
                throw reader.error("parity", "\"\(parity)\" is not one of none, even, odd, mark, space")
            }
            settings.parity = value
        }
        settings.stopBits = try reader.int("stop_bits", in: 1...2) ?? 1
        // ASCII is often 7 data bits (7E1); RTU is always 8.
        settings.dataBits = kind == .serialASCII ? try reader.int("data_bits", in: 7...8) ?? 8 : 8
        return settings
    }

    /// `adapter` for a local port; `address` (with `connect_timeout_ms`, and
    /// `max_in_flight` for `tcp`) for a device server or a Modbus/TCP device.
    private static func whereTheLineIs(_ kind: Line.Kind, _ reader: inout TOMLReader) throws(ConfigurationError) -> (AdapterMatcher, Remote?) {
        switch kind {
        case .serial, .serialASCII:
            let text = try reader.required("adapter") { reader, key throws(ConfigurationError) in try reader.string(key) }
            do { return (try AdapterMatcher(parsing: text), nil) } catch { throw reader.error("adapter", error.reason) }
        case .rtuOverTCP, .tcp:
            if try reader.string("adapter") != nil { throw reader.error("adapter", "a line of kind \(kind.rawValue) has an address, not an adapter") }
            let text = try reader.required("address") { reader, key throws(ConfigurationError) in try reader.string(key) }
            guard let (host, port) = hostAndPort(text), port > 0 else { throw reader.error("address", "\"\(text)\" is not HOST:PORT") }
            let timeout = try reader.int("connect_timeout_ms", in: 10...60_000) ?? 3000
            var remote = Remote(host: host, port: port, connectTimeout: .milliseconds(timeout))
            if kind == .tcp { remote.maxInFlight = try reader.int("max_in_flight", in: 1...64) ?? 1 }
            return (.node(pattern: text), remote)
        }
    }

    static func rs485(_ reader: inout TOMLReader) throws(ConfigurationError) -> RS485Settings? {
        guard var table = try reader.subtable("rs485") else { return nil }
        var settings = RS485Settings()
        settings.enabled = try table.bool("enabled") ?? true
        settings.rtsOnSend = try table.bool("rts_on_send") ?? true
        settings.rtsAfterSend = try table.bool("rts_after_send") ?? false
        settings.receiveDuringTransmit = try table.bool("receive_during_transmit") ?? false
        settings.delayBeforeSend = try table.int("delay_before_send_ms", in: 0...100) ?? 0
        settings.delayAfterSend = try table.int("delay_after_send_ms", in: 0...100) ?? 0
        try table.finish()
        return settings
    }

    private static func busOptions(_ reader: inout TOMLReader) throws(ConfigurationError) -> Bus.Options {
        var options = Bus.Options()
        let minimum = try reader.int("timeout_min_ms", in: 1...60_000) ?? 50
        let maximum = try reader.int("timeout_max_ms", in: 1...60_000) ?? 1000
        guard minimum <= maximum else { throw reader.error("timeout_min_ms", "\(minimum) is above timeout_max_ms (\(maximum))") }
        options.health.minimumTimeout = .milliseconds(minimum)
        options.health.maximumTimeout = .milliseconds(maximum)
        options.health.failuresToOpen = try reader.int("failures_to_open", in: 1...1000) ?? 3
        options.health.backoff = .milliseconds(Int((try reader.double("backoff_s", in: 0.01...3600) ?? 5) * 1000))
        options.retries = try reader.int("retries", in: 0...10) ?? 0
        options.queueCapacity = try reader.int("queue", in: 1...100_000) ?? 64
        options.turnaround = .milliseconds(try reader.int("turnaround_ms", in: 0...10_000) ?? 100)
        options.interFrameDelay = .microseconds(Int((try reader.double("interframe_ms", in: 0...1000) ?? 0) * 1000))
        return options
    }

    /// `units`: one unit id or a range LOW-HIGH, as written and as a range.
    static func units(_ reader: inout TOMLReader) throws(ConfigurationError) -> (text: String, range: ClosedRange<UInt8>) {
        let text = try reader.required("units") { reader, key throws(ConfigurationError) in try reader.string(key) }
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false).map { UInt8($0) }
        guard (1...2).contains(bounds.count), let low = bounds.first!, let high = bounds.last!, low >= 1, low <= high else {
            throw reader.error("units", "\"\(text)\" is not a unit id or a range LOW-HIGH of unit ids 1-255")
        }
        return (text, low...high)
    }

    private static func route(_ source: TOMLReader) throws(ConfigurationError) -> Route {
        var reader = source
        let (text, units) = try Self.units(&reader)
        let (low, high) = (units.lowerBound, units.upperBound)
        let line = try reader.required("line") { reader, key throws(ConfigurationError) in try reader.string(key) }
        let offset = try reader.int("offset", in: -246...254) ?? 0
        guard Int(low) - offset >= 1, Int(high) - offset <= 247 else {
            throw reader.error("offset", "slave = unit − offset: units \(text) with offset \(offset) would be slaves "
                                   + "\(Int(low) - offset) to \(Int(high) - offset), and slaves are 1 to 247")
        }
        try reader.finish()
        return Route(units: low...high, line: line, offset: offset)
    }

    private static func poll(_ source: TOMLReader) throws(ConfigurationError) -> Poll {
        var reader = source
        let line = try reader.required("line") { reader, key throws(ConfigurationError) in try reader.string(key) }
        let slave = try reader.required("slave") { reader, key throws(ConfigurationError) in try reader.int(key, in: 1...247) }
        let texts = try reader.required("addresses") { reader, key throws(ConfigurationError) in try reader.strings(key) }
        var addresses: [ModbusAddress] = []
        for (index, text) in texts.enumerated() {
            guard !text.contains("=") else { throw reader.error("addresses[\(index)]", "\"\(text)\": a poll takes addresses, not values") }
            do {
                let spec = try RegisterSpec(parsing: text)
                addresses += (0..<spec.values.count).map { ModbusAddress(table: spec.start.table, offset: spec.start.offset + UInt16($0)) }
            } catch {
                throw reader.error("addresses[\(index)]", error.reason)
            }
        }
        let period = try reader.double("period_s", in: 0.01...86_400) ?? 1
        let reach = try reader.int("reach", in: 1...65_536) ?? 100
        let agent = try reader.double("agent_age_s", in: 0...86_400) ?? 0
        try reader.finish()
        return Poll(line: line, slave: UInt8(slave), addresses: addresses, period: .milliseconds(Int(period * 1000)), reach: reach,
                    agentAge: agent > 0 ? .milliseconds(Int(agent * 1000)) : nil)
    }

    private static func listener(_ source: TOMLReader) throws(ConfigurationError) -> Listener {
        var reader = source
        let bind = try reader.string("bind") ?? "0.0.0.0:502"
        guard let (host, port) = hostAndPort(bind) else { throw reader.error("bind", "\"\(bind)\" is not HOST:PORT") }
        let limit = try reader.int("connection_limit", in: 1...100_000) ?? 256
        let (idle, frame) = try connectionTimeouts(&reader)
        let allow = try allowList(&reader)
        let readOnly = try reader.bool("read_only") ?? false
        try reader.finish()
        let timeouts = ModbusTCPServer.Timeouts(idle: idle, frame: frame)
        return Listener(host: host, port: port, connectionLimit: limit, timeouts: timeouts, allow: allow, readOnly: readOnly)
    }

    /// `idle_timeout_s` (0: never) and `frame_timeout_s`, as a listener and [enip] take them.
    static func connectionTimeouts(_ reader: inout TOMLReader) throws(ConfigurationError) -> (idle: Duration?, frame: Duration) {
        let idle = try reader.double("idle_timeout_s", in: 0...86_400) ?? 300
        let frame = try reader.double("frame_timeout_s", in: 0.1...3600) ?? 5
        return (idle > 0 ? .milliseconds(Int(idle * 1000)) : nil, .milliseconds(Int(frame * 1000)))
    }

    /// `allow`: addresses or IPv4 networks (CIDR) let in; empty lets everyone in.
    static func allowList(_ reader: inout TOMLReader) throws(ConfigurationError) -> [AddressRange] {
        var allow: [AddressRange] = []
        for (index, text) in (try reader.strings("allow") ?? []).enumerated() {
            guard let range = AddressRange(text) else { throw reader.error("allow[\(index)]", "\"\(text)\" is not an address or IPv4 CIDR (10.0.0.0/8)") }
            allow.append(range)
        }
        return allow
    }

    /// What needs the whole file: unique line names, routes to lines that exist, no unit routed twice.
    private func check(_ root: TOMLReader) throws(ConfigurationError) {
        var names: Set<String> = []
        for (index, line) in lines.enumerated() where !names.insert(line.name).inserted {
            throw root.error("line[\(index)].name", "\"\(line.name)\" names two lines")
        }
        // The gateway knows a listener by its table: two the same would be one.
        for (index, listener) in listeners.enumerated() {
            if let first = listeners.firstIndex(of: listener), first < index {
                throw root.error("listener[\(index)]", "the same as listener[\(first)]")
            }
        }
        var routed: [UInt8: Int] = [:]
        for (index, route) in routes.enumerated() {
            guard names.contains(route.line) else { throw root.error("route[\(index)].line", "no [[line]] is named \"\(route.line)\"") }
            for unit in route.units {
                if let other = routed.updateValue(index, forKey: unit) {
                    throw root.error("route[\(index)].units", "unit \(unit) is already routed by route[\(other)]")
                }
            }
        }
        for (index, poll) in polls.enumerated() where !names.contains(poll.line) {
            throw root.error("poll[\(index)].line", "no [[line]] is named \"\(poll.line)\"")
        }
        try checkDevices(root, lines: names)
        try checkAssemblies(root, lines: names)
        try checkSerialSlaves(root, routed: Set(routed.keys))
        if listeners.isEmpty && enip == nil && serialSlaves.isEmpty {
            throw root.error("listener", "at least one [[listener]] (or [enip], or [[serial_slave]]) is needed")
        }
    }
}

/// An IPv4 network (`10.0.0.0/8`, `192.168.1.7`) or any other address written exactly.
public struct AddressRange: Sendable, Hashable {
    let network: UInt32?
    let prefix: Int
    let exact: String

    /// Reads an IPv4 address, an IPv4 network in CIDR form, or an address with a
    /// ':' (IPv6), matched exactly; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        exact = String(parts[0])
        if let address = Self.ipv4(parts[0]) {
            guard parts.count == 1 || (parts.count == 2 && Int(parts[1]).map { (0...32).contains($0) } == true) else { return nil }
            prefix = parts.count == 2 ? Int(parts[1])! : 32
            network = prefix == 0 ? 0 : address & ~UInt32(0) << (32 - prefix)
        } else {
            guard parts.count == 1, text.contains(":") else { return nil }
            network = nil
            prefix = 128
        }
    }

    /// Whether `address`, a client's address as text, is in the range: by
    /// network for IPv4, by the exact text otherwise.
    public func contains(_ address: String) -> Bool {
        guard let network, let value = Self.ipv4(Substring(address)) else { return address == exact }
        return prefix == 0 || value & ~UInt32(0) << (32 - prefix) == network
    }

    static func ipv4(_ text: Substring) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard octets.count == 4, text.split(separator: ".", omittingEmptySubsequences: false).count == 4 else { return nil }
        return octets.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
