import EtherNetIP
import Modbus
import NIOCore

/// A device's registers as one Logix structure tag: a read is one snapshot
/// of the poller's cache (every member polled less than `maxAge` ago, or
/// the read fails with 0x02, resource unavailable), a write goes through the
/// serial line at once, and the device's exception comes back as a CIP
/// status (`cipStatus(for:)`).
public final class DeviceTags: TagSource {
    /// The structure's members, in order.
    public let members: [RegisterMember]
    /// The poller whose cache serves reads and through which writes go.
    public let poller: Poller
    /// The oldest a polled value may be and still serve a read.
    public let maxAge: Duration
    /// Each member's byte offset in the structure.
    private let offsets: [Int]
    private let size: Int

    init(members: [RegisterMember], template: Template, poller: Poller, maxAge: Duration) {
        self.members = members
        self.poller = poller
        self.maxAge = maxAge
        offsets = members.map { member in template.member(named: member.name)!.offset }
        size = template.size
    }

    /// Each device as one structure tag (its type named after it), polled at
    /// its period by its slave's poller: the one in `sharing` (by line, then
    /// slave: the [[poll]]s' pollers), or one made here and shared by every
    /// device of that slave, so that no slave is polled twice. The pollers
    /// made here, to stop them.
    public static func table(for devices: [Configuration.Device], on buses: [String: Bus],
                             sharing: [String: [UInt8: Poller]] = [:]) throws -> (TagTable, [Poller]) {
        var tags = TagTable()
        var pollers: [Poller] = []
        var shared = sharing
        for device in devices {
            guard let bus = buses[device.line] else { throw GatewayError(reason: "device \(device.tag): no line \(device.line)") }
            let poller: Poller
            if let existing = shared[device.line]?[device.slave] {
                poller = existing
            } else {
                poller = Poller(bus: bus, slave: device.slave, period: device.period)
                shared[device.line, default: [:]][device.slave] = poller
                pollers.append(poller)
            }
            poller.poll(device.members.flatMap(\.addresses), period: device.period)
            let template = try tags.addStructure(name: device.tag, fields: fields(device.members), packBools: false)
            let source = DeviceTags(members: device.members, template: template, poller: poller, maxAge: device.maxAge)
            try tags.add(name: device.tag, type: .structure(template), source: source)
        }
        return (tags, pollers)
    }

    /// The structure's members, as `Template(fields:packBools: false)` lays them out.
    static func fields(_ members: [RegisterMember]) -> [(String, DataType, Int)] {
        members.map { ($0.name, .atomic($0.type), 0) }
    }

    /// The whole structure from the poller's cache; ``DeviceTags/stale`` when
    /// any member's values are too old or missing.
    public func snapshot() throws(CIPStatus) -> [UInt8] {
        guard let values = poller.cached(members.flatMap(\.addresses), maxAge: maxAge) else { throw Self.stale }
        var bytes = [UInt8](repeating: 0, count: size)
        for (member, (offset, registers)) in zip(members, zip(offsets, RegisterMember.split(values, among: members))) {
            let encoded = member.bytes(from: registers)
            bytes.replaceSubrange(offset..<offset + encoded.count, with: encoded)
        }
        return bytes
    }

    /// Values not polled recently enough, or a device offline.
    public static let stale = CIPStatus(0x02)

    /// Writes the members that lie wholly inside `bytes`, one after another
    /// through the line; a device's exception fails the future with its CIP status.
    public func store(_ bytes: [UInt8], at offset: Int, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let writes: [(RegisterMember, [UInt16])]
        do {
            writes = try self.writes(bytes, at: offset)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        // One member after another, on the event loop: no thread of the pool is held.
        let poller = self.poller
        var chain = eventLoop.makeSucceededVoidFuture()
        for (member, registers) in writes {
            chain = chain.flatMap { poller.write(member.address, values: registers, on: eventLoop) }
        }
        return chain.flatMapErrorThrowing { error in
            throw (error as? ModbusError).map(Self.cipStatus(for:)) ?? error
        }
    }

    /// The members wholly inside the bytes written, with their registers. A
    /// write of one read-only member is refused. A whole structure's write
    /// may carry its read-only members only at the values they have now (as
    /// a client writes back what it read); one that would change any is
    /// refused whole (0x0F), and nothing of it reaches the line.
    private func writes(_ bytes: [UInt8], at offset: Int) throws(CIPStatus) -> [(RegisterMember, [UInt16])] {
        var writes: [(RegisterMember, [UInt16])] = []
        var covered = 0
        var current: [UInt8]?
        for (member, start) in zip(members, offsets) where start >= offset && start + member.type.size <= offset + bytes.count {
            covered += 1
            let slice = bytes[(start - offset)..<(start - offset + member.type.size)]
            guard member.writable else {
                if current == nil { current = (try? snapshot()) ?? [] }
                guard let current, current.count >= start + slice.count, current[start..<start + slice.count].elementsEqual(slice) else {
                    throw .privilegeViolation
                }
                continue
            }
            writes.append((member, try member.registers(from: slice)))
        }
        guard covered > 0 else { throw .pathDestinationUnknown }
        guard !writes.isEmpty else { throw .privilegeViolation }
        return writes
    }

    /// How a failed Modbus write is told to a CIP client (a table in the README).
    public static func cipStatus(for error: ModbusError) -> CIPStatus {
        switch error.exception {
        case .illegalFunction?: return .serviceNotSupported
        case .illegalDataAddress?: return .pathDestinationUnknown
        case .illegalDataValue?: return CIPStatus(0x09)
        case .serverBusy?: return CIPStatus(0x02)
        case let code?: return CIPStatus(0x1F, extended: [UInt16(code.rawValue)])
        case nil: return CIPStatus(0x1F, extended: [error.code == .timeout ? 0x0B : 0x0A])
        }
    }
}
