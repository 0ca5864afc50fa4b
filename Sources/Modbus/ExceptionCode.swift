/// A Modbus exception code, as a server answers a request it cannot serve.
public struct ExceptionCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as it goes on the wire, after the function code with its high bit set.
    public let rawValue: UInt8
    /// The code `rawValue`, known or not.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The server does not serve this function code.
    public static let illegalFunction = ExceptionCode(rawValue: 0x01)
    /// An address, or an address plus the count, is outside what the server defines.
    public static let illegalDataAddress = ExceptionCode(rawValue: 0x02)
    /// A value in the request is not allowed: a count out of range, a byte count
    /// that does not match.
    public static let illegalDataValue = ExceptionCode(rawValue: 0x03)
    /// The server failed while carrying out the request.
    public static let serverDeviceFailure = ExceptionCode(rawValue: 0x04)
    /// The server is busy with a long command; the client should retry later.
    public static let serverBusy = ExceptionCode(rawValue: 0x06)
    /// A gateway has no path to the target (unit not mapped, line down).
    public static let gatewayPathUnavailable = ExceptionCode(rawValue: 0x0A)
    /// A gateway's target did not answer.
    public static let gatewayTargetFailed = ExceptionCode(rawValue: 0x0B)

    /// The spec's name and the number: "illegal data address (2)".
    public var description: String {
        switch self {
        case .illegalFunction: "illegal function (1)"
        case .illegalDataAddress: "illegal data address (2)"
        case .illegalDataValue: "illegal data value (3)"
        case .serverDeviceFailure: "server device failure (4)"
        case .serverBusy: "server busy (6)"
        case .gatewayPathUnavailable: "gateway path unavailable (0x0A)"
        case .gatewayTargetFailed: "gateway target failed to respond (0x0B)"
        default: "exception \(rawValue)"
        }
    }
}

/// A request refused with an exception: what a server sends back instead of a reply.
public struct ModbusException: Error, Hashable, Sendable, CustomStringConvertible {
    /// The function code that was refused, without the exception bit.
    public let function: UInt8
    /// Why it was refused.
    public let code: ExceptionCode

    /// An exception to `function`; the exception bit (0x80) is cleared if set.
    public init(function: UInt8, code: ExceptionCode) {
        self.function = function & 0x7F
        self.code = code
    }

    /// The function and the code: "FC3: illegal data address (2)".
    public var description: String { "FC\(function): \(code)" }
}
