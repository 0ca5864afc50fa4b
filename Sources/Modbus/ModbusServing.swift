import NIOCore

/// What answers Modbus requests behind a server: the simulator's devices, or
/// (in the gateway) the serial lines. Called on the connection's event loop;
/// return a future for work done elsewhere. A nil reply sends nothing (a
/// broadcast).
public protocol ModbusServing: Sendable {
    func serve(unit: UInt8, pdu: [UInt8], on eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]?>
}

/// Serves units from their devices, at once. A unit with no device gets
/// exception 0x0A (no path to it), as a gateway answers.
public struct DeviceServing: ModbusServing {
    public let units: UnitMap

    public init(units: UnitMap) { self.units = units }

    public func serve(unit: UInt8, pdu: [UInt8], on eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
        eventLoop.makeSucceededFuture(reply(unit: unit, pdu: pdu))
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
