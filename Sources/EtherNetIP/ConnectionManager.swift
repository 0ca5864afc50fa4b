import NIOCore
import Synchronization

/// The Connection Manager (class 6): Forward Open (0x54), Large Forward Open
/// (0x5B), Forward Close (0x4E). Connections are shared by the whole server
/// (a duplicate is refused whichever session asks) and expire when idle for
/// their O→T RPI times the timeout multiplier. Class 1 (I/O) connections are
/// handed to the server's ``IOExchange``; the limit counts both kinds.
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

    /// Forward Open: Class 1 (implicit I/O) goes to `io`; Class 3 is an
    /// explicit connection for connected messages (as pycomm3 and pylogix
    /// ask), held here; other classes are 0x0103.
    func open(_ request: CIPRequest, session: UInt32, peer: SocketAddress?, io: IOExchange?, identity: Identity) throws(CIPStatus) -> CIPReply {
        let forwardOpen = try ForwardOpen(request)
        switch forwardOpen.transportClass {
        case 3: return try openExplicit(forwardOpen, session: session, besides: io?.count ?? 0)
        case 1: break
        default: return forwardOpen.failure(0x0103)
        }
        guard let io else { return forwardOpen.failure(0x0103) }
        let room = connections.withLock { table in
            let now = ContinuousClock.now
            table = table.filter { now - $0.value.lastUsed < $0.value.timeout }
            return table.count + io.count < limit
        }
        return io.open(forwardOpen, peer: peer, identity: identity, room: room)
    }

    /// The connection's timeout is the O→T RPI (how often the client sends) times the multiplier.
    private func openExplicit(_ request: ForwardOpen, session: UInt32, besides ioConnections: Int) throws(CIPStatus) -> CIPReply {
        let size = request.sizeIn
        guard (8...4002).contains(size) else { throw .connectionFailure(0x0109) }
        let serverID = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let triple = request.triple, timeout = request.timeoutOut
        try connections.withLock { table throws(CIPStatus) in
            let now = ContinuousClock.now
            table = table.filter { now - $0.value.lastUsed < $0.value.timeout }
            guard !table.values.contains(where: { $0.triple == triple }) else { throw .connectionFailure(0x0100) }
            guard table.count + ioConnections < limit else { throw .connectionFailure(0x0113) }
            table[serverID] = Connection(serverID: serverID, clientID: request.inID, triple: triple, size: size, timeout: timeout,
                                         session: session, lastUsed: now)
        }
        var data: [UInt8] = []
        data.append32(serverID)
        data.append32(request.inID)
        data += triple.bytes
        data.append32(request.rpiOut)
        data.append32(request.rpiIn)
        data += [0, 0]
        return CIPReply(service: request.service, data: data)
    }

    /// Forward Close of an explicit connection, or of an I/O connection in `io`.
    func close(_ request: CIPRequest, io: IOExchange?) throws(CIPStatus) -> CIPReply {
        var reader = WireReader(request.data)
        try reader.skip(2)
        let triple = try Triple(&reader)
        let found = connections.withLock { table in
            guard let id = table.first(where: { $0.value.triple == triple })?.key else { return false }
            table[id] = nil
            return true
        }
        guard found || io?.close(triple) == true else { throw .connectionFailure(0x0107) }
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
