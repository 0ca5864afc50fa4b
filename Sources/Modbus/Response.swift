/// A Modbus reply PDU, decoded.
public enum Response: Hashable, Sendable {
    /// FC1, FC2: as many bits as were asked for.
    case bits([Bool])
    /// FC3, FC4, FC23.
    case registers([UInt16])
    case writeSingleCoil(address: UInt16, value: Bool)
    case writeSingleRegister(address: UInt16, value: UInt16)
    case exceptionStatus(UInt8)
    case diagnostics(subfunction: UInt16, data: [UInt8])
    case commEventCounter(status: UInt16, count: UInt16)
    /// FC15, FC16: where and how many were written.
    case writeMultiple(address: UInt16, count: UInt16)
    case serverID(id: [UInt8], running: Bool)
    case maskWriteRegister(address: UInt16, andMask: UInt16, orMask: UInt16)
    case deviceIdentification(DeviceIdentification)
    case exception(ModbusException)
}

/// The reply to FC43/14, Read Device Identification.
public struct DeviceIdentification: Hashable, Sendable {
    public struct Object: Hashable, Sendable {
        public let id: UInt8
        public let value: [UInt8]
        public init(id: UInt8, value: [UInt8]) {
            self.id = id
            self.value = value
        }
    }

    public var category: UInt8
    public var conformity: UInt8
    public var moreFollows: Bool
    public var nextObjectID: UInt8
    public var objects: [Object]

    public init(category: UInt8, conformity: UInt8, moreFollows: Bool = false, nextObjectID: UInt8 = 0, objects: [Object]) {
        self.category = category
        self.conformity = conformity
        self.moreFollows = moreFollows
        self.nextObjectID = nextObjectID
        self.objects = objects
    }
}

/// What went wrong with a transaction, from a client's side.
public struct ModbusError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The server answered with an exception.
        case exception
        /// No valid reply before the deadline.
        case timeout
        /// A reply that does not fit the request.
        case malformedReply
        /// The connection or line failed.
        case connection
        /// A request we refuse to send (outside the spec's limits).
        case invalidRequest
    }

    public let code: Code
    public let detail: String
    /// The server's exception, for `.exception`.
    public let exception: ExceptionCode?

    public init(_ code: Code, _ detail: String, exception: ExceptionCode? = nil) {
        self.code = code
        self.detail = detail
        self.exception = exception
    }

    public static func from(_ exception: ModbusException) -> ModbusError {
        ModbusError(.exception, "\(exception)", exception: exception.code)
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}
