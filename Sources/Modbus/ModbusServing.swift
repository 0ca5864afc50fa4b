import NIOCore
import Synchronization

/// What answers Modbus requests behind a server: the simulator's devices, or
/// (in the gateway) the serial lines. Called on the connection's event loop.
public protocol ModbusServing: Sendable {
    /// The reply to the request `pdu` for `unit` that came on `connection`: at
    /// once, later (a future on `eventLoop`), or handed over; nil sends no
    /// reply. It must not block: the thread that calls it serves other clients.
    func serve(unit: UInt8, pdu: [UInt8], from connection: ModbusConnection, on eventLoop: any EventLoop) -> Served
}

/// The connection a request came on: an id, and whether it is still open (a
/// gateway drops the queued requests of a client that has gone rather than
/// spend the line on them).
public final class ModbusConnection: Sendable {
    /// A number unique to the connection within the process, for logs and queues.
    public let id: Int
    private let open = Atomic<Bool>(true)
    private static let nextID = Atomic<Int>(1)

    /// A new open connection with the next id.
    public init() {
        id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Whether the client is still connected; a request from a closed connection
    /// need not be sent on.
    public var isOpen: Bool { open.load(ordering: .relaxed) }

    /// Marks the connection closed; the server calls it when the client goes.
    public func close() { open.store(false, ordering: .relaxed) }
}

/// A reply PDU known at once (a device in memory, a cache), or one that work
/// elsewhere will deliver (a serial line). A nil reply sends nothing (a
/// broadcast). Replies known at once cost the server no future: that is what
/// lets one connection carry over 100,000 requests a second.
public enum Served: Sendable {
    /// The reply, or nil for none, known now.
    case now([UInt8]?)
    /// The reply, or nil for none, when the future completes.
    case later(EventLoopFuture<[UInt8]?>)
    /// Work elsewhere calls the function it is handed, once, with the reply,
    /// on its own thread (a gateway's serial line): no event loop between.
    case handedOver(@Sendable (_ whenDone: @escaping @Sendable ([UInt8]?) -> Void) -> Void)

    /// The reply as a future on `eventLoop`, however it comes.
    public func future(on eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
        switch self {
        case .now(let reply): return eventLoop.makeSucceededFuture(reply)
        case .later(let future): return future
        case .handedOver(let start):
            let promise = eventLoop.makePromise(of: [UInt8]?.self)
            start { promise.succeed($0) }
            return promise.futureResult
        }
    }
}

/// Serves units from their devices, at once. A unit with no device gets
/// exception 0x0A (no path to it), as a gateway answers.
public struct DeviceServing: ModbusServing {
    /// The devices that answer, by unit.
    public let units: UnitMap

    /// Serves the devices of `units`.
    public init(units: UnitMap) { self.units = units }

    /// Answers at once from the unit's device, with no future made.
    public func serve(unit: UInt8, pdu: [UInt8], from connection: ModbusConnection, on eventLoop: any EventLoop) -> Served {
        .now(reply(unit: unit, pdu: pdu))
    }

    /// The reply PDU to a request PDU.
    public func reply(unit: UInt8, pdu: [UInt8]) -> [UInt8] {
        let request: Request
        do {
            request = try Request(pdu: pdu[...])
        } catch {
            return [error.function | 0x80, error.code.rawValue]
        }
        guard let device = units.device(for: unit) else {
            return [request.function.exception, ExceptionCode.gatewayPathUnavailable.rawValue]
        }
        return device.respond(to: request).pdu(for: request)
    }
}
