import Foundation
import History
import Modbus
import Synchronization

/// What `fieldgw modbus-sim --web` can do to its server while it runs.
public struct ModbusSimControls: Sendable {
    public var host: String
    public var port: Int
    public var store: DataStore
    public var faults: FaultSwitch
    /// Modbus/TCP only (nil on a serial line): the clients, and closing one.
    public var clients: (@Sendable () -> [ModbusTCPServer.Client])?
    public var disconnect: (@Sendable (ModbusTCPServer.Client) -> Void)?
    /// Modbus/TCP only: close the port and every client, or listen again.
    public var setDisabled: (@Sendable (Bool) async throws -> Void)?
    public var isDisabled: @Sendable () -> Bool
    public var done: @Sendable () -> Void
    /// Whether the server damages replies (not ASCII's): the `evil` group is offered.
    public var evil = true

    public init(host: String, port: Int, store: DataStore, faults: FaultSwitch, clients: (@Sendable () -> [ModbusTCPServer.Client])?,
                disconnect: (@Sendable (ModbusTCPServer.Client) -> Void)?, setDisabled: (@Sendable (Bool) async throws -> Void)?,
                isDisabled: @escaping @Sendable () -> Bool, done: @escaping @Sendable () -> Void) {
        (self.host, self.port, self.store, self.faults, self.clients) = (host, port, store, faults, clients)
        (self.disconnect, self.setDisabled, self.isDisabled, self.done) = (disconnect, setDisabled, isDisabled, done)
    }
}

extension SimulatorAPI {
    /// `fieldgw modbus-sim --web`'s objects, in cpppo's scheme: `options/delay`,
    /// `server/control`, `registers/<ADDRESS>` (value, error: an exception
    /// code every access gets), `evil/<FAULT>` (the `--evil` faults, switched
    /// on and off), and on Modbus/TCP `connections/<ADDRESS_PORT>`.
    public static func modbus(_ controls: ModbusSimControls) -> SimulatorAPI {
        let state = SimulatorState()
        return SimulatorAPI {
            var objects = [modbusDelay(controls.faults), modbusControl(controls, state)]
            objects += Table.allCases.flatMap { table in
                // A coil past 9999 has no cpppo number (its 6-digit form names another table): not offered.
                controls.store.defined(table).filter { table != .coils || $0 <= 9998 }.map { register(ModbusAddress(table: table, offset: $0), controls.store) }
            }
            if controls.evil { objects += ["corrupt", "delay", "silent", "truncate"].map { evil($0, controls.faults) } }
            if let clients = controls.clients, let disconnect = controls.disconnect {
                objects += clients().map { client in modbusConnection(client, clients: clients, disconnect: disconnect) }
            }
            return objects
        }
    }

    final class SimulatorState: Sendable {
        let done = Mutex(false)
        let times = Mutex((latency: 0.1, timeout: 0.2))
    }

    static func delayFault(_ faults: FaultSwitch) -> ClosedRange<Double>? {
        for case .delay(let range) in faults.current { return range }
        return nil
    }

    static func replace(_ faults: FaultSwitch, kind: String, with fault: ModbusFault?) {
        faults.set(faults.current.filter { $0.kind != kind } + (fault.map { [$0] } ?? []))
    }

    static func modbusDelay(_ faults: FaultSwitch) -> SimulatorObject {
        let attributes: @Sendable () -> [(String, JSONValue)] = {
            guard let range = delayFault(faults) else { return [("value", .double(0))] }
            if range.lowerBound == range.upperBound { return [("value", .double(range.lowerBound))] }
            return [("range", .string(rangeText(range))), ("value", .double(range.lowerBound))]
        }
        return SimulatorObject(group: "options", match: "delay", attributes: attributes, get: { name in
            attributes().first { $0.0 == name }?.1 ?? (name == "range" ? .null : nil)
        }, set: { name, text in
            if name == "value" {
                let seconds = try double(text)
                guard seconds.isFinite, (0...86_400).contains(seconds) else { throw SimulatorAPIError("a delay is 0 to 86400 seconds") }
                replace(faults, kind: "delay", with: seconds > 0 ? .delay(seconds...seconds) : nil)
                return .double(seconds)
            }
            let fault = try fault("delay:" + text)
            replace(faults, kind: "delay", with: fault)
            return .string(text)
        })
    }

    static func fault(_ text: String) throws -> ModbusFault {
        do { return try ModbusFault(parsing: text) } catch { throw SimulatorAPIError(error.description) }
    }

    static func modbusControl(_ controls: ModbusSimControls, _ state: SimulatorState) -> SimulatorObject {
        let address = JSONValue.array([.string(controls.host), .int(Int64(controls.port))])
        let attributes: @Sendable () -> [(String, JSONValue)] = {
            [("address", address), ("disable", .bool(controls.isDisabled())), ("done", .bool(state.done.withLock { $0 })),
             ("latency", .double(state.times.withLock { $0.latency })), ("timeout", .double(state.times.withLock { $0.timeout }))]
        }
        return SimulatorObject(group: "server", match: "control", attributes: attributes, get: { name in
            attributes().first { $0.0 == name }?.1
        }, set: { name, text in
            switch name {
            case "disable":
                guard let setDisabled = controls.setDisabled else { throw SimulatorAPIError("a serial line cannot be disabled") }
                let disable = try bool(text)
                try await setDisabled(disable)
                return .bool(disable)
            case "done":
                let finish = try bool(text)
                if finish, !state.done.withLock({ done in defer { done = true }; return done }) { controls.done() }
                return .bool(finish)
            case "latency", "timeout":
                let seconds = try double(text)
                guard seconds > 0 else { throw SimulatorAPIError("\(name) must be positive") }
                state.times.withLock { if name == "latency" { $0.latency = seconds } else { $0.timeout = seconds } }
                return .double(seconds)
            default:
                throw SimulatorAPIError("\(name) cannot be set")
            }
        })
    }

    static func register(_ address: ModbusAddress, _ store: DataStore) -> SimulatorObject {
        let attributes: @Sendable () -> [(String, JSONValue)] = {
            [("error", .int(Int64(store.error(at: address)?.rawValue ?? 0))), ("value", .int(Int64(store.value(at: address) ?? 0)))]
        }
        return SimulatorObject(group: "registers", match: address.short, attributes: attributes, get: { name in
            attributes().first { $0.0 == name }?.1
        }, set: { name, text in
            let number = try int(text)
            switch name {
            case "value":
                let limit = address.table.isBits ? 1 : 65535
                guard (0...limit).contains(number) else { throw SimulatorAPIError("\(address.short) holds 0 to \(limit)") }
                store.define(address.table, at: address.offset, values: [UInt16(number)])
            case "error":
                guard (0...255).contains(number) else { throw SimulatorAPIError("an exception code is 0 to 255") }
                store.setError(number == 0 ? nil : ExceptionCode(rawValue: UInt8(number)), at: address)
            default:
                throw SimulatorAPIError("\(name) cannot be set")
            }
            return .int(Int64(number))
        })
    }

    /// `evil/<FAULT>`: `active`, and the fault's setting (`range`, `field`,
    /// `fraction`); setting the setting switches the fault on with it.
    static func evil(_ kind: String, _ faults: FaultSwitch) -> SimulatorObject {
        let setting = ["delay": "range", "corrupt": "field", "silent": "fraction"][kind]
        let attributes: @Sendable () -> [(String, JSONValue)] = {
            let active = faults.current.first { $0.kind == kind }
            var attributes: [(String, JSONValue)] = [("active", .bool(active != nil))]
            if let setting { attributes.append((setting, active.map { .string($0.setting) } ?? .null)) }
            return attributes
        }
        return SimulatorObject(group: "evil", match: kind, attributes: attributes, get: { name in
            attributes().first { $0.0 == name }?.1
        }, set: { name, text in
            if name == "active" {
                let on = try bool(text)
                let held = faults.current.first { $0.kind == kind }
                replace(faults, kind: kind, with: on ? try held ?? fault(kind) : nil)
                return .bool(on)
            }
            guard name == setting else { throw SimulatorAPIError("\(name) cannot be set") }
            replace(faults, kind: kind, with: try fault(kind + ":" + text))
            return .string(text)
        })
    }

    static func modbusConnection(_ client: ModbusTCPServer.Client, clients: @escaping @Sendable () -> [ModbusTCPServer.Client],
                                 disconnect: @escaping @Sendable (ModbusTCPServer.Client) -> Void) -> SimulatorObject {
        connection(key: client.key, current: {
            let now = clients().first { $0.key == client.key } ?? client
            return (now.interface, now.port, now.received, now.requests)
        }, close: { disconnect(client) })
    }
}

extension ModbusFault {
    /// "truncate", "delay", "corrupt" or "silent".
    var kind: String { String(description.prefix { $0 != ":" }) }

    /// What follows the colon in `--evil`'s spelling ("0.1-0.5", "unit", "0.5").
    var setting: String { description.split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init) ?? "" }
}
