import EtherNetIP
import Logging
import Modbus
import NIOCore
import Synchronization

/// `[[assembly]]` tables made into Assembly object instances on the slaves'
/// pollers: an input's bytes are read from the poll caches each time they
/// are produced, and each change of an output's members is written through
/// its slave's line, ahead of the polls.
enum AssemblyBinding {
    static func assemblies(_ configured: [Configuration.IOAssembly], pollers: [String: [UInt8: Poller]], loop: any EventLoop,
                           logger: Logger) -> [Assembly] {
        configured.map { assembly in
            switch assembly.role {
            case .input: input(assembly, pollers: pollers)
            case .output: output(assembly, pollers: pollers, loop: loop, logger: logger)
            case .configuration: Assembly(instance: assembly.instance, role: .configuration, size: assembly.size)
            }
        }
    }

    /// Status bits first (a slave whose values are too old, or missing: its
    /// members read 0, never a stale value), then the members. Each poll of
    /// its slaves tells it that it may have changed (for change-of-state connections).
    private static func input(_ assembly: Configuration.IOAssembly, pollers: [String: [UInt8: Poller]]) -> Assembly {
        let slaves = assembly.slaves, members = assembly.members, maxAge = assembly.maxAge, size = assembly.size
        let statusBytes = (slaves.count + 7) / 8
        let input = Assembly(instance: assembly.instance, role: .input, size: size, read: {
            let values = members.map { pollers[$0.line]?[$0.slave]?.cached($0.register.addresses, maxAge: maxAge) }
            let stale = Set(zip(members, values).filter { $0.1 == nil }.map(\.0.slaveKey))
            var bytes = [UInt8](repeating: 0, count: size)
            for (index, slave) in slaves.enumerated() where stale.contains(slave) { bytes[index / 8] |= 1 << UInt8(index % 8) }
            var offset = statusBytes
            // A slave gone stale reads 0 in all its members, even those read before it went.
            for (member, value) in zip(members, values) {
                defer { offset += member.register.type.size }
                guard !stale.contains(member.slaveKey), let value else { continue }
                bytes.replaceSubrange(offset..<offset + member.register.type.size, with: member.register.bytes(from: value[...]))
            }
            return bytes
        })
        let watched = slaves.compactMap { pollers[$0.line]?[$0.slave] }
        let tokens = watched.map { poller in poller.observeCycles { [weak input] _, _ in input?.changed() } }
        input.onRelease { for (poller, token) in zip(watched, tokens) { poller.stopObserving(token) } }
        return input
    }

    /// Each member whose bytes changed is written (the first data, all of
    /// them); Idle and timeout take the members' `safe` values when asked.
    private static func output(_ assembly: Configuration.IOAssembly, pollers: [String: [UInt8: Poller]], loop: any EventLoop,
                               logger: Logger) -> Assembly {
        let members = assembly.members
        // The configuration was checked: every safe value fits its member.
        let safe = members.flatMap { member in
            member.register.bytes(from: ((try? member.register.registers(for: member.safe)) ?? [])[...])
        }
        let last = Mutex<[UInt8]?>(nil)
        let written: @Sendable ([UInt8]) -> Void = { data in
            let previous = last.withLock { last in defer { last = data }; return last }
            var offset = 0
            for member in members {
                let range = offset..<offset + member.register.type.size
                offset = range.upperBound
                guard member.register.writable, previous.map({ $0[range] != data[range] }) ?? true else { continue }
                guard let registers = try? member.register.registers(from: data[range]), let poller = pollers[member.line]?[member.slave] else { continue }
                poller.write(member.register.address, values: registers, on: loop).whenFailure { error in
                    logger.warning("assembly output not written", metadata: [
                        "assembly": "\(assembly.instance)", "member": "\(member.register.name)", "line": "\(member.line)",
                        "slave": "\(member.slave)", "error": "\(error)",
                    ])
                }
            }
        }
        return Assembly(instance: assembly.instance, role: .output, size: assembly.size,
                        onIdle: assembly.safeOnIdle ? .safe(safe) : .hold, onTimeout: assembly.safeOnTimeout ? .safe(safe) : .hold,
                        written: written)
    }
}
