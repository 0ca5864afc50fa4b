import Synchronization
import EtherNetIP
import Foundation
import History

extension SimulatorAPI {
    /// `fieldgw enip-server --web`'s objects, named and shaped as cpppo's:
    /// `options/delay`, `server/control`, `tags/<NAME>`, `connections/<ADDRESS_PORT>`.
    /// `done` is what `server/control/done/true` does (stop the server).
    public static func enip(server: ENIPServer, tags: TagTable, host: String, done: @escaping @Sendable () -> Void) -> SimulatorAPI {
        let stopping = DoneFlag()
        return SimulatorAPI {
            [delay(server.controls), control(server, host: host, done: done, stopping: stopping)]
                + tags.tags.map(tag) + server.connections.map { connection(server, $0) }
        }
    }

    static func delay(_ controls: ServerControls) -> SimulatorObject {
        let attributes: @Sendable () -> [(String, JSONValue)] = {
            let delay = controls.currentDelay
            return [("value", .double(delay.value))] + (delay.range.map { [("range", .string(rangeText($0)))] } ?? [])
        }
        return SimulatorObject(group: "options", match: "delay", attributes: attributes, get: { name in
            attributes().first { $0.0 == name }?.1 ?? (name == "range" ? .null : nil)
        }, set: { name, text in
            switch name {
            case "value":
                let seconds = try double(text)
                guard ServerControls.isValidDelay(seconds) else { throw SimulatorAPIError("a delay is 0 to 86400 seconds") }
                controls.setDelay(seconds)
                return .double(seconds)
            default:
                let bounds = text.split(separator: "-").compactMap { Double($0) }
                guard bounds.count == 2, bounds.allSatisfy(ServerControls.isValidDelay), bounds[0] <= bounds[1] else {
                    throw SimulatorAPIError("not a range LOW-HIGH of 0 to 86400 seconds: '\(text)'")
                }
                controls.setDelay(range: bounds[0]...bounds[1])
                return .string(text)
            }
        })
    }

    static func rangeText(_ range: ClosedRange<Double>) -> String {
        "\(JSONValue.pythonFloat(range.lowerBound))-\(JSONValue.pythonFloat(range.upperBound))"
    }

    final class DoneFlag: Sendable {
        let done = Mutex(false)
    }

    static func control(_ server: ENIPServer, host: String, done: @escaping @Sendable () -> Void, stopping: DoneFlag) -> SimulatorObject {
        let address = JSONValue.array([.string(host), .int(Int64(server.port))])
        let attributes: @Sendable () -> [(String, JSONValue)] = {
            [("address", address), ("address_udp", address), ("disable", .bool(server.isDisabled)),
             ("done", .bool(stopping.done.withLock { $0 })), ("latency", .double(server.controls.latency)),
             ("timeout", .double(server.controls.timeout))]
        }
        return SimulatorObject(group: "server", match: "control", attributes: attributes, get: { name in
            attributes().first { $0.0 == name }?.1
        }, set: { name, text in
            switch name {
            case "disable":
                let disable = try bool(text)
                if disable { await server.disable() } else { try await server.enable() }
                return .bool(disable)
            case "done":
                let finish = try bool(text)
                if finish, !stopping.done.withLock({ $0 }) {
                    stopping.done.withLock { $0 = true }
                    done()
                }
                return .bool(finish)
            case "latency", "timeout":
                let seconds = try double(text)
                guard seconds > 0 else { throw SimulatorAPIError("\(name) must be positive") }
                if name == "latency" { server.controls.latency = seconds } else { server.controls.timeout = seconds }
                return .double(seconds)
            default:
                throw SimulatorAPIError("\(name) cannot be set")
            }
        })
    }

    static func tag(_ tag: Tag) -> SimulatorObject {
        SimulatorObject(group: "tags", match: tag.name, attributes: {
            [("attribute", .string(describe(tag))), ("error", .int(Int64(tag.error))), ("path", .null)]
        }, get: { name in
            switch name {
            case "attribute": return .string(describe(tag))
            case "error": return .int(Int64(tag.error))
            case "path": return .null
            default:
                guard let index = element(name, of: tag) else { return nil }
                return value(tag, at: index)
            }
        }, set: { name, text in
            if name == "error" {
                let status = try int(text)
                guard (0...255).contains(status) else { throw SimulatorAPIError("a CIP status is 0 to 255") }
                tag.error = UInt8(status)
                return .int(Int64(status))
            }
            guard let index = element(name, of: tag), case .atomic(let type) = tag.type else {
                throw SimulatorAPIError("\(name) cannot be set")
            }
            let number = type.isInteger ? Double(try int(text)) : try double(text)
            tag.write([number], from: index)  // as a client's write: --historize records it
            return value(tag, at: index)
        })
    }

    /// `attribute[3]`: the element's index, if the tag has it.
    static func element(_ name: String, of tag: Tag) -> Int? {
        guard name.hasPrefix("attribute["), name.hasSuffix("]"), let index = Int(name.dropFirst(10).dropLast()),
              index >= 0, index < tag.count, case .atomic = tag.type else { return nil }
        return index
    }

    static func value(_ tag: Tag, at index: Int) -> JSONValue {
        guard case .atomic(let type) = tag.type, let number = tag.values(from: index, count: 1).first else { return .null }
        // A ULINT (or a LINT at its limit) may not fit Int64 as a Double: then the number as it is.
        guard type.isInteger, let whole = Int64(exactly: number) else { return .double(number) }
        return .int(whole)
    }

    /// As cpppo shows an attribute: `"%-24s %10s%s == %s"` (name, type,
    /// `[count]` or ` x1`, the values as Python's reprlib shortens them).
    static func describe(_ tag: Tag) -> String {
        let size = tag.dimensions.isEmpty ? " x\(String(tag.count).padding(toLength: 4, withPad: " ", startingAt: 0))"
            : "[" + String(repeating: " ", count: max(0, 4 - String(tag.count).count)) + "\(tag.count)]"
        let name = tag.name.padding(toLength: max(24, tag.name.count), withPad: " ", startingAt: 0)
        let type = String(repeating: " ", count: max(0, 10 - tag.type.name.count)) + tag.type.name
        let values: [JSONValue]
        if case .atomic = tag.type {
            values = (0..<min(tag.count, 7)).map { value(tag, at: $0) }
        } else {
            values = tag.bytes(at: 0, count: min(tag.type.size * tag.count, 7)).map { .int(Int64($0)) }
        }
        let shown: String
        if tag.dimensions.isEmpty, let first = values.first {
            shown = first.pythonRepr
        } else {
            let more = values.count > 6 ? ", ..." : ""
            shown = "[" + values.prefix(6).map(\.pythonRepr).joined(separator: ", ") + more + "]"
        }
        return "\(name) \(type)\(size) == \(shown)"
    }

    static func connection(_ server: ENIPServer, _ client: ClientConnection) -> SimulatorObject {
        connection(key: client.key, current: {
            let now = server.connections.first { $0.key == client.key } ?? client
            return (now.interface, now.port, now.received, now.requests)
        }, close: { server.disconnect(client) })
    }

    /// `connections/<ADDRESS_PORT>`, as cpppo shows a client: `eof` (`true` closes it), `interface`, `port`, `received`, `requests`.
    static func connection(key: String, current: @escaping @Sendable () -> (interface: String, port: Int, received: Int, requests: Int),
                           close: @escaping @Sendable () -> Void) -> SimulatorObject {
        let attributes: @Sendable () -> [(String, JSONValue)] = {
            let now = current()
            return [("eof", .bool(false)), ("interface", .string(now.interface)), ("port", .int(Int64(now.port))),
                    ("received", .int(Int64(now.received))), ("requests", .int(Int64(now.requests)))]
        }
        return SimulatorObject(group: "connections", match: key, attributes: attributes, get: { name in
            attributes().first { $0.0 == name }?.1
        }, set: { name, text in
            guard name == "eof" else { throw SimulatorAPIError("\(name) cannot be set") }
            let eof = try bool(text)
            if eof { close() }
            return .bool(eof)
        })
    }
}
