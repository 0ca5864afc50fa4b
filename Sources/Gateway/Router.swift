import Modbus
import NIOCore

/// Routes Modbus/TCP requests by unit id to a line and a slave address on it
/// (with an offset, so that several lines may each have a slave 1). A unit
/// with no route is answered 0x0A, as is a line that is down; the line
/// answers 0x0B for a slave that does not respond and 0x06 when it is full.
/// Unit 0 is broadcast on every line, with no reply.
public struct Router: ModbusServing {
    /// Where one unit's requests go.
    public struct Route: Sendable {
        /// The line the unit's requests go to.
        public let bus: Bus
        /// The slave's address on the line.
        public let slave: UInt8
        /// Agent mode: reads of values this poller read less than `agentAge`
        /// ago are answered from its cache, without using the line.
        public let poller: Poller?
        /// How fresh cached values must be for agent mode; nil turns it off.
        public let agentAge: Duration?

        /// A route to `slave` on `bus`, answering reads from `poller`'s cache when
        /// `agentAge` is set.
        public init(bus: Bus, slave: UInt8, poller: Poller? = nil, agentAge: Duration? = nil) {
            self.bus = bus
            self.slave = slave
            self.poller = poller
            self.agentAge = agentAge
        }
    }

    /// The routes, by unit id.
    public let routes: [UInt8: Route]

    /// A router with `routes`; ``Router/range(_:offset:to:)`` makes them.
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

    /// Refuses a PDU with no valid function (0x01), broadcasts unit 0, answers
    /// from the poll cache when it can, and hands the rest to the unit's line.
    public func serve(unit: UInt8, pdu: [UInt8], from connection: ModbusConnection, on eventLoop: any EventLoop) -> Served {
        // 0 and 0x80-0xFF are no function a request may carry: refused here, never put on the line.
        guard let function = pdu.first, function != 0, function < 0x80 else {
            return .now(Bus.exception(.illegalFunction, to: pdu))
        }
        if unit == 0 { return broadcast(pdu, on: eventLoop) }
        guard let route = routes[unit] else { return .now(Bus.exception(.gatewayPathUnavailable, to: pdu)) }
        if let cached = Self.fromCache(pdu, route) { return .now(cached) }
        // A write goes ahead of reads waiting on the line.
        let priority: BusPriority = [5, 6, 15, 16, 22, 23].contains(pdu.first ?? 0) ? .write : .forwarded
        return .handedOver { whenDone in route.bus.submit(pdu, to: route.slave, priority: priority, from: connection, whenDone: whenDone) }
    }

    /// The reply to a read from the route's poll cache, when agent mode is on
    /// and every value asked for is fresh enough.
    private static func fromCache(_ pdu: [UInt8], _ route: Route) -> [UInt8]? {
        guard let poller = route.poller, let age = route.agentAge, let request = try? Request(pdu: pdu[...]) else { return nil }
        let read: (Table, UInt16, UInt16)
        switch request {
        case .readCoils(let address, let count): read = (.coils, address, count)
        case .readDiscreteInputs(let address, let count): read = (.discreteInputs, address, count)
        case .readHoldingRegisters(let address, let count): read = (.holdingRegisters, address, count)
        case .readInputRegisters(let address, let count): read = (.inputRegisters, address, count)
        default: return nil
        }
        guard let values = poller.cached(read.0, offset: read.1, count: Int(read.2), maxAge: age) else { return nil }
        let response: Response = read.0.isBits ? .bits(values.map { $0 != 0 }) : .registers(values)
        return response.pdu(for: request)
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
