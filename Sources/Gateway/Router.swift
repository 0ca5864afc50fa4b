import Modbus
import NIOCore

/// Routes Modbus/TCP requests by unit id to a line and a slave address on it
/// (with an offset, so that several lines may each have a slave 1). A unit
/// with no route is answered 0x0A, as is a line that is down; the line
/// answers 0x0B for a slave that does not respond and 0x06 when it is full.
/// Unit 0 is broadcast on every line, with no reply.
public struct Router: ModbusServing {
    public struct Route: Sendable {
        public let bus: Bus
        public let slave: UInt8

        public init(bus: Bus, slave: UInt8) {
            self.bus = bus
            self.slave = slave
        }
    }

    public let routes: [UInt8: Route]

    public init(routes: [UInt8: Route]) { self.routes = routes }

    /// TCP units `units` to the slaves `units - offset` of `bus`.
    public static func range(_ units: ClosedRange<UInt8>, offset: Int = 0, to bus: Bus) -> [UInt8: Route] {
        var routes: [UInt8: Route] = [:]
        for unit in units {
            let slave = Int(unit) - offset
            if (1...247).contains(slave) { routes[unit] = Route(bus: bus, slave: UInt8(slave)) }
        }
        return routes
    }

    public func serve(unit: UInt8, pdu: [UInt8], from connection: ModbusConnection, on eventLoop: any EventLoop) -> Served {
        if unit == 0 { return broadcast(pdu, on: eventLoop) }
        guard let route = routes[unit] else { return .now(Bus.exception(.gatewayPathUnavailable, to: pdu)) }
        // A write goes ahead of reads waiting on the line.
        let priority: BusPriority = [5, 6, 15, 16, 22, 23].contains(pdu.first ?? 0) ? .write : .forwarded
        return .later(route.bus.submit(pdu, to: route.slave, priority: priority, from: connection, on: eventLoop))
    }

    /// Unit 0 is a broadcast on every routed line, as a write, and gets no
    /// reply (as on the serial side, and as mbusd does).
    private func broadcast(_ pdu: [UInt8], on eventLoop: any EventLoop) -> Served {
        var seen = Set<ObjectIdentifier>()
        for route in routes.values where seen.insert(ObjectIdentifier(route.bus)).inserted {
            _ = route.bus.submit(pdu, to: 0, priority: .write, on: eventLoop)
        }
        return .now(nil)
    }
}
