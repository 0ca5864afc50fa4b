import EtherNetIP
import Modbus

extension Configuration {
    /// `[[assembly]]`: an Assembly object instance whose bytes are serial
    /// devices' registers, exchanged with a PLC over Class 1 I/O connections.
    ///
    /// An input assembly starts with one status bit per slave its members
    /// come from (in the order they first appear; set when that slave's
    /// values are older than `maxAge` or it is offline, and its members then
    /// read 0), then each member's bytes in order. An output assembly is its
    /// members' bytes in order; each change is written to the slaves.
    public struct IOAssembly: Sendable, Hashable {
        /// The instance number connection paths name.
        public var instance: UInt32
        /// Input (device to PLC), output (PLC to device) or configuration.
        public var role: Assembly.Role
        /// How often an input's members are polled.
        public var period: Duration
        /// An input's values older than this set their slave's status bit.
        public var maxAge: Duration
        /// What an output's members take when the PLC goes to Idle: `true` their `safe` values.
        public var safeOnIdle: Bool
        /// What an output's members take when its connection times out.
        public var safeOnTimeout: Bool
        /// The members, in order.
        public var members: [IOMember]

        /// The slaves an input's status bits stand for, in order.
        var slaves: [SlaveKey] {
            var seen: [SlaveKey] = []
            for member in members where !seen.contains(member.slaveKey) { seen.append(member.slaveKey) }
            return seen
        }

        /// Its size in bytes: status bytes (inputs), then the members.
        public var size: Int {
            (role == .input ? (slaves.count + 7) / 8 : 0) + members.reduce(0) { $0 + $1.register.type.size }
        }
    }

    /// One member of an assembly: a slave's register (or two, or a coil), as a device's member is.
    public struct IOMember: Sendable, Hashable {
        /// The `[[line]]` the slave is on.
        public var line: String
        /// The slave's address, 1 to 247.
        public var slave: UInt8
        /// The register, its type, order and scale.
        public var register: RegisterMember
        /// What an output member takes on Idle or timeout when its assembly asks for safe values.
        public var safe: Double

        /// The line and slave.
        var slaveKey: SlaveKey { SlaveKey(line: line, slave: slave) }
    }

    /// `[enip.io]`: where Class 1 I/O packets come and go.
    public struct IO: Sendable, Hashable {
        /// The address the I/O socket binds.
        public var host: String
        /// Its UDP port, 2222 by the standard.
        public var port: Int
        /// The UDP port inputs are sent to on the originator's host (or its multicast group).
        public var destinationPort: UInt16
        /// The hops multicast inputs may take (IP TTL), 1 by default: the PLC's own subnet.
        public var multicastTTL: Int = 1
        /// How long before each input packet is due the I/O thread stops sleeping and spins, in microseconds.
        public var spinMicroseconds: Int = IO.defaultSpin
        /// A wake from sleep can be a millisecond late on a virtual machine: spinning the last stretch keeps the RPI.
        public static let defaultSpin = 0
    }

    static func io(_ source: TOMLReader, enipHost: String) throws(ConfigurationError) -> IO {
        var reader = source
        let bind = try reader.string("bind") ?? "\(enipHost):2222"
        guard let (host, port) = hostAndPort(bind) else { throw reader.error("bind", "\"\(bind)\" is not HOST:PORT") }
        let destination = try reader.int("destination_port", in: 1...65_535) ?? 2222
        let ttl = try reader.int("multicast_ttl", in: 1...255) ?? 1
        let spin = try reader.int("spin_us", in: 0...5_000) ?? IO.defaultSpin
        try reader.finish()
        return IO(host: host, port: port, destinationPort: UInt16(destination), multicastTTL: ttl, spinMicroseconds: spin)
    }

    static func assembly(_ source: TOMLReader) throws(ConfigurationError) -> IOAssembly {
        var reader = source
        let instance = try reader.required("instance") { reader, key throws(ConfigurationError) in try reader.int(key, in: 1...0xFFFF) }
        let roleText = try reader.required("role") { reader, key throws(ConfigurationError) in try reader.string(key) }
        guard let role = Assembly.Role(rawValue: roleText) else { throw reader.error("role", "\"\(roleText)\" is not input, output or configuration") }
        let period = try reader.double("period_s", in: 0.01...86_400) ?? 0.1
        let maxAge = try reader.double("max_age_s", in: 0.01...86_400) ?? max(1, period * 3)
        let safeOnIdle = try action(&reader, "on_idle", role: role)
        let safeOnTimeout = try action(&reader, "on_timeout", role: role)
        var members: [IOMember] = []
        for var member in try reader.tables("member") {
            let line = try member.required("line") { reader, key throws(ConfigurationError) in try reader.string(key) }
            let slave = try member.required("slave") { reader, key throws(ConfigurationError) in try reader.int(key, in: 1...247) }
            let safe = try member.double("safe", in: -1e12...1e12) ?? 0
            let register = try Self.member(&member)
            guard !members.contains(where: { $0.register.name.lowercased() == register.name.lowercased() }) else {
                throw member.error("name", "\"\(register.name)\" names two members")
            }
            members.append(IOMember(line: line, slave: UInt8(slave), register: register, safe: safe))
        }
        guard !members.isEmpty || role == .configuration else { throw reader.error("member", "an assembly needs at least one [[assembly.member]]") }
        try reader.finish()
        let assembly = IOAssembly(instance: UInt32(instance), role: role, period: .milliseconds(Int(period * 1000)),
                                  maxAge: .milliseconds(Int(maxAge * 1000)), safeOnIdle: safeOnIdle, safeOnTimeout: safeOnTimeout,
                                  members: members)
        // A Forward Open's sizes are 9 bits: 511 less the sequence count and the run/idle header.
        guard assembly.size <= 505 else { throw reader.error("member", "the assembly is \(assembly.size) bytes; at most 505") }
        return assembly
    }

    /// `on_idle`, `on_timeout`: "hold" (the default) or "safe", outputs only.
    private static func action(_ reader: inout TOMLReader, _ key: String, role: Assembly.Role) throws(ConfigurationError) -> Bool {
        guard let text = try reader.string(key) else { return false }
        guard role == .output else { throw reader.error(key, "only an output assembly has an action") }
        switch text {
        case "hold": return false
        case "safe": return true
        default: throw reader.error(key, "\"\(text)\" is not hold or safe")
        }
    }

    /// Assemblies with instances used once, not on the heartbeat points, on lines that exist.
    func checkAssemblies(_ root: TOMLReader, lines names: Set<String>) throws(ConfigurationError) {
        var instances: Set<UInt32> = []
        for (index, assembly) in assemblies.enumerated() {
            guard instances.insert(assembly.instance).inserted else {
                throw root.error("assembly[\(index)].instance", "\(assembly.instance) names two assemblies")
            }
            guard assembly.instance != 198 && assembly.instance != 199 else {
                throw root.error("assembly[\(index)].instance", "198 and 199 are the input-only and listen-only heartbeat points")
            }
            for (number, member) in assembly.members.enumerated() {
                guard names.contains(member.line) else {
                    throw root.error("assembly[\(index)].member[\(number)].line", "no [[line]] is named \"\(member.line)\"")
                }
                guard (try? member.register.registers(for: member.safe)) != nil else {
                    throw root.error("assembly[\(index)].member[\(number)].safe", "\(member.safe) does not fit a \(member.register.encoding.rawValue)")
                }
            }
        }
    }

    /// What the assemblies need polled: each slave's input members'
    /// addresses, at the fastest period asked; an output's slaves get a
    /// poller too (with nothing to poll), through which their writes go.
    var assemblyPolls: [Poll] {
        var polls: [SlaveKey: Poll] = [:]
        for assembly in assemblies where assembly.role != .configuration {
            for member in assembly.members {
                let addresses = assembly.role == .input ? member.register.addresses : []
                if var poll = polls[member.slaveKey] {
                    poll.addresses += addresses.filter { !poll.addresses.contains($0) }
                    poll.period = min(poll.period, period(assembly))
                    polls[member.slaveKey] = poll
                } else {
                    polls[member.slaveKey] = Poll(line: member.line, slave: member.slave, addresses: addresses, period: period(assembly),
                                                  reach: 100, agentAge: nil)
                }
            }
        }
        return polls.values.sorted { ($0.line, $0.slave) < ($1.line, $1.slave) }
    }

    /// An output polls nothing: its period must not hurry the slave's other polls.
    private func period(_ assembly: IOAssembly) -> Duration { assembly.role == .input ? assembly.period : .seconds(3600) }
}
