import NIOCore
import Synchronization

/// What answers Modbus requests behind a server: the simulator's devices, or
/// (in the gateway) the serial lines. Called on the connection's event loop.
public protocol ModbusServing: Sendable {
    func serve(unit: UInt8, pdu: [UInt8], from connection: ModbusConnection, on eventLoop: any EventLoop) -> Served
}

/// The connection a request came on: an id, and whether it is still open (a
/// gateway drops the queued requests of a client that has gone rather than
/// spend the line on them).
public final class ModbusConnection: Sendable {
    public let id: Int
    private let open = Atomic<Bool>(true)
    private static let nextID = Atomic<Int>(1)

    public init() {
        id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    public var isOpen: Bool { open.load(ordering: .relaxed) }

    public func close() { open.store(false, ordering: .relaxed) }
}

/// A reply PDU known at once (a device in memory, a cache), or one that work
/// elsewhere will deliver (a serial line). A nil reply sends nothing (a
/// broadcast). Replies known at once cost the server no future: that is what
/// lets one connection carry over 100,000 requests a second.
public enum Served: Sendable {
    case now([UInt8]?)
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
    public let units: UnitMap

    public init(units: UnitMap) { self.units = units }

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
