/// A Modbus reply PDU, decoded.
public enum Response: Hashable, Sendable {
    /// FC1, FC2: as many bits as were asked for.
    case bits([Bool])
    /// FC3, FC4, FC23.
    case registers([UInt16])
    /// FC5: the request echoed.
    case writeSingleCoil(address: UInt16, value: Bool)
    /// FC6: the request echoed.
    case writeSingleRegister(address: UInt16, value: UInt16)
    /// FC7: the exception status bits.
    case exceptionStatus(UInt8)
    /// FC8: the sub-function and its data (for sub-function 0, the query echoed).
    case diagnostics(subfunction: UInt16, data: [UInt8])
    /// FC11: the status word (0xFFFF while busy) and the event count.
    case commEventCounter(status: UInt16, count: UInt16)
    /// FC15, FC16: where and how many were written.
    case writeMultiple(address: UInt16, count: UInt16)
    /// FC17: the device's id bytes and whether it reports itself running.
    case serverID(id: [UInt8], running: Bool)
    /// FC22: the request echoed.
    case maskWriteRegister(address: UInt16, andMask: UInt16, orMask: UInt16)
    /// FC43/14: the device's identification objects.
    case deviceIdentification(DeviceIdentification)
    /// The server refused the request.
    case exception(ModbusException)
}

/// The reply to FC43/14, Read Device Identification.
public struct DeviceIdentification: Hashable, Sendable {
    /// One identification object: its id and its value (usually ASCII text).
    public struct Object: Hashable, Sendable {
        /// The object id: 0 vendor name, 1 product code, 2 revision, and so on.
        public let id: UInt8
        /// The object's bytes.
        public let value: [UInt8]
        /// An object `id` of value `value`.
        public init(id: UInt8, value: [UInt8]) {
            self.id = id
            self.value = value
        }
    }

    /// The category read: 1 basic, 2 regular, 3 extended, 4 one object.
    public var category: UInt8
    /// The highest category the device supports (1–3), with 0x80 set when it
    /// also serves single objects.
    public var conformity: UInt8
    /// Whether the objects did not fit one reply: ask again from
    /// ``DeviceIdentification/nextObjectID``.
    public var moreFollows: Bool
    /// Where the next request starts when ``DeviceIdentification/moreFollows``; 0 otherwise.
    public var nextObjectID: UInt8
    /// The objects in this reply, in id order.
    public var objects: [Object]

    /// A reply of `objects`; with `moreFollows`, the rest start at `nextObjectID`.
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
    /// What kind of failure it was.
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

    /// The kind of failure, for callers that react to it (a gateway answers a
    /// timeout with exception 0x0B).
    public let code: Code
    /// What happened, for people.
    public let detail: String
    /// The server's exception, for `.exception`.
    public let exception: ExceptionCode?

    /// An error of `code`; `exception` is the server's code for `.exception`.
    public init(_ code: Code, _ detail: String, exception: ExceptionCode? = nil) {
        self.code = code
        self.detail = detail
        self.exception = exception
    }

    /// The error for a server's exception reply, when a caller wants it thrown.
    public static func from(_ exception: ModbusException) -> ModbusError {
        ModbusError(.exception, "\(exception)", exception: exception.code)
    }

    /// The code and the detail: "timeout: no valid reply within 1 s".
    public var description: String { "\(code.rawValue): \(detail)" }
}
