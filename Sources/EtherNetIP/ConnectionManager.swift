import Synchronization

/// The Connection Manager (class 6): Forward Open (0x54), Large Forward Open
/// (0x5B), Forward Close (0x4E). Connections are shared by the whole server
/// (a duplicate is refused whichever session asks) and expire when idle for
/// their RPI times the timeout multiplier.
public final class ConnectionManager: Sendable {
    struct Connection {
        let serverID: UInt32
        let clientID: UInt32
        let triple: Triple
        /// The most bytes a connected message may hold, sequence number included.
        let size: Int
        let timeout: Duration
        let session: UInt32
        var lastUsed: ContinuousClock.Instant
    }

    /// Connection serial, vendor, originator serial: a connection's identity.
    struct Triple: Hashable {
        let serial: UInt16
        let vendor: UInt16
        let originator: UInt32

        /// As Forward Open, Forward Close and their replies carry it.
        var bytes: [UInt8] {
            var out: [UInt8] = []
            out.append16(serial)
            out.append16(vendor)
            out.append32(originator)
            return out
        }

        init(serial: UInt16, vendor: UInt16, originator: UInt32) {
            self.serial = serial
            self.vendor = vendor
            self.originator = originator
        }

        init(_ reader: inout WireReader) throws(CIPStatus) {
            self.init(serial: try reader.u16(), vendor: try reader.u16(), originator: try reader.u32())
        }
    }

    static let forwardOpen: UInt8 = 0x54
    static let largeForwardOpen: UInt8 = 0x5B
    static let forwardClose: UInt8 = 0x4E
    static let unconnectedSend: UInt8 = 0x52

    private let connections = Mutex<[UInt32: Connection]>([:])
    private let nextID = Atomic<UInt32>(0x1000_0001)
    /// The most connections open at once, across every session; one more is
    /// refused with extended status 0x0113.
    public let limit: Int

    /// A Connection Manager that allows `limit` connections at once.
    public init(limit: Int = 64) { self.limit = limit }

    /// The connections held, counting those expired but not yet forgotten (they
    /// go at the next Forward Open or use).
    public var count: Int { connections.withLock { $0.count } }

    func open(_ request: CIPRequest, session: UInt32) throws(CIPStatus) -> CIPReply {
        var reader = WireReader(request.data)
        try reader.skip(2)
        _ = try reader.u32()
        let clientID = try reader.u32()
        let triple = try Triple(&reader)
        let multiplier = try reader.u8()
        try reader.skip(3)
        let rpiOut = try reader.u32()
        let large = request.service == Self.largeForwardOpen
        _ = large ? try reader.u32() : UInt32(try reader.u16())
        let rpiIn = try reader.u32()
        let size = large ? Int(try reader.u32() & 0xFFFF) : Int(try reader.u16() & 0x1FF)
        guard (8...4002).contains(size) else { throw .connectionFailure(0x0109) }
        let timeout = Duration.microseconds(Int64(rpiIn) * Int64(4 << min(multiplier, 7)))
        let serverID = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        try connections.withLock { table throws(CIPStatus) in
            let now = ContinuousClock.now
            table = table.filter { now - $0.value.lastUsed < $0.value.timeout }
            guard !table.values.contains(where: { $0.triple == triple }) else { throw .connectionFailure(0x0100) }
            guard table.count < limit else { throw .connectionFailure(0x0113) }
            table[serverID] = Connection(serverID: serverID, clientID: clientID, triple: triple, size: size, timeout: timeout,
                                         session: session, lastUsed: now)
        }
        var data: [UInt8] = []
        data.append32(serverID)
        data.append32(clientID)
        data += triple.bytes
        data.append32(rpiOut)
        data.append32(rpiIn)
        data += [0, 0]
        return CIPReply(service: request.service, data: data)
    }

    func close(_ request: CIPRequest) throws(CIPStatus) -> CIPReply {
        var reader = WireReader(request.data)
        try reader.skip(2)
        let triple = try Triple(&reader)
        let found = connections.withLock { table in
            guard let id = table.first(where: { $0.value.triple == triple })?.key else { return false }
            table[id] = nil
            return true
        }
        guard found else { throw .connectionFailure(0x0107) }
        let data = triple.bytes + [0, 0]
        return CIPReply(service: request.service, data: data)
    }

    /// The live connection `serverID` of `session`, marked used; nil when
    /// unknown or expired (and then forgotten).
    func use(_ serverID: UInt32, session: UInt32) -> Connection? {
        connections.withLock { table in
            guard var connection = table[serverID], connection.session == session else { return nil }
            let now = ContinuousClock.now
            guard now - connection.lastUsed < connection.timeout else {
                table[serverID] = nil
                return nil
            }
            connection.lastUsed = now
            table[serverID] = connection
            return connection
        }
    }

    /// A session has ended: its connections go with it.
    func closeAll(session: UInt32) {
        connections.withLock { table in table = table.filter { $0.value.session != session } }
    }
}
