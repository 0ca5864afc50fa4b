/// A Modbus exception code, as a server answers a request it cannot serve.
public struct ExceptionCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let illegalFunction = ExceptionCode(rawValue: 0x01)
    public static let illegalDataAddress = ExceptionCode(rawValue: 0x02)
    public static let illegalDataValue = ExceptionCode(rawValue: 0x03)
    public static let serverDeviceFailure = ExceptionCode(rawValue: 0x04)
    public static let serverBusy = ExceptionCode(rawValue: 0x06)
    /// A gateway has no path to the target (unit not mapped, line down).
    public static let gatewayPathUnavailable = ExceptionCode(rawValue: 0x0A)
    /// A gateway's target did not answer.
    public static let gatewayTargetFailed = ExceptionCode(rawValue: 0x0B)

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
    public let function: UInt8
    public let code: ExceptionCode

    public init(function: UInt8, code: ExceptionCode) {
        self.function = function & 0x7F
        self.code = code
    }

    public var description: String { "FC\(function): \(code)" }
}
