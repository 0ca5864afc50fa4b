import NIOCore

/// Carries a CIP request to its object, dispatching on the service and the
/// class together: 0x4E and 0x52 are Forward Close and Unconnected Send on
/// the Connection Manager, but Read-Modify-Write and Read Tag Fragmented on
/// a tag.
public struct MessageRouter: Sendable {
    /// The tags served.
    public let tags: TagTable
    /// What the Identity object, ListIdentity and class 0x64 report.
    public let identity: Identity
    /// The Forward Open connections, shared by every session.
    public let connections: ConnectionManager
    /// The controller's clock (class 0x8B), which clients may set.
    public let clock = WallClock()
    /// The assemblies (class 4) and their Class 1 I/O connections; nil when none are offered.
    public let io: IOExchange?

    static let multipleServicePacket: UInt8 = 0x0A
    static let getAttributesAll: UInt8 = 0x01
    static let getAttributeSingle: UInt8 = 0x0E
    static let setAttributeSingle: UInt8 = 0x10
    static let getInstanceAttributeList: UInt8 = 0x55
    /// The most bytes of an unconnected reply, as a Logix controller allows.
    static let unconnectedLimit = 504

    /// Told of every tag write served, and reads when `reportReads` (`enip-server --print`, `-v`).
    public let report: (@Sendable (String) -> Void)?
    /// Whether `report` is told of reads too.
    public let reportReads: Bool
    /// Whether a tag write of a narrower type is widened to the tag's, as
    /// cpppo's server does, rather than refused (0xFF, 0x2107) as Logix does.
    public let widenWrites: Bool
    /// Requests, errors, sessions and connections, for /metrics.
    public let metrics: ServerMetrics?

    /// A router for `tags`; `report` is told of every write (and read, when
    /// `reportReads`), and `metrics` counts requests; `io` serves the
    /// assemblies and their I/O connections.
    public init(tags: TagTable, identity: Identity = Identity(), connections: ConnectionManager = ConnectionManager(),
                io: IOExchange? = nil, report: (@Sendable (String) -> Void)? = nil, reportReads: Bool = false,
                widenWrites: Bool = false, metrics: ServerMetrics? = nil) {
        self.reportReads = reportReads
        self.widenWrites = widenWrites
        self.tags = tags
        self.identity = identity
        self.connections = connections
        self.io = io
        self.report = report
        self.metrics = metrics
    }

    /// The reply to one request's bytes, for tags held in memory.
    func handle(_ bytes: ArraySlice<UInt8>, limit: Int, session: UInt32) -> CIPReply {
        guard case .now(let reply) = answer(bytes, limit: limit, session: session, peer: nil, on: nil) else {
            return CIPReply(service: bytes.first ?? 0, status: .serviceNotSupported)
        }
        return reply
    }

    /// The reply to one request's bytes from the client at `peer`; `limit`
    /// bounds its size. A write to a tag with a source is answered later, on `eventLoop`.
    func answer(_ bytes: ArraySlice<UInt8>, limit: Int, session: UInt32, peer: SocketAddress?,
                on eventLoop: (any EventLoop)?) -> Answer<CIPReply> {
        let request: CIPRequest
        do {
            request = try CIPRequest(parsing: bytes)
        } catch {
            return counted(.now(CIPReply(service: bytes.first ?? 0, status: error)), service: bytes.first ?? 0)
        }
        let answer: Answer<CIPReply>
        do {
            answer = try dispatch(request, limit: limit, session: session, peer: peer, on: eventLoop)
        } catch {
            answer = .now(CIPReply(service: request.service, status: error))
        }
        // Unconnected Send and Multiple Service Packet only carry requests: those are counted, not the wrappers.
        return Self.carries(request) ? answer : counted(answer, service: request.service)
    }

    private static func carries(_ request: CIPRequest) -> Bool {
        switch request.path.segments.first {
        case .classID(6)?: request.service == ConnectionManager.unconnectedSend
        case .classID(2)?: request.service == multipleServicePacket
        default: false
        }
    }

    private func counted(_ answer: Answer<CIPReply>, service: UInt8) -> Answer<CIPReply> {
        guard let metrics else { return answer }
        switch answer {
        case .now(let reply): metrics.served(service, reply.status)
        case .later(let reply): reply.whenSuccess { metrics.served(service, $0.status) }
        }
        return answer
    }

    private func dispatch(_ request: CIPRequest, limit: Int, session: UInt32, peer: SocketAddress?,
                          on eventLoop: (any EventLoop)?) throws(CIPStatus) -> Answer<CIPReply> {
        switch request.path.segments.first {
        case .classID(6)? where request.service == ConnectionManager.unconnectedSend:
            return try unconnectedSend(request, session: session, peer: peer, on: eventLoop)
        case .classID(2)? where request.service == Self.multipleServicePacket:
            return try multiple(request, limit: limit, session: session, peer: peer, on: eventLoop)
        case .symbol?, .classID(0x6B)?:
            // 0x55 on the Symbol class lists tags; any other service there is a tag's.
            guard request.service == Self.getInstanceAttributeList else { return try logix.serve(request, limit: limit, on: eventLoop) }
            return .now(try local(request, limit: limit, session: session, peer: peer))
        case .classID? where LogixServices.isTagService(request.service) && tags.attributeTag(request.path) != nil:
            // cpppo's client reads a tag at its attribute (@2/1/1) with Read Tag.
            return try logix.serve(request, limit: limit, on: eventLoop)
        default:
            return .now(try local(request, limit: limit, session: session, peer: peer))
        }
    }

    private var logix: LogixServices { LogixServices(tags: tags, report: report, reportReads: reportReads, widen: widenWrites) }

    /// Services answered at once by the objects here.
    private func local(_ request: CIPRequest, limit: Int, session: UInt32, peer: SocketAddress?) throws(CIPStatus) -> CIPReply {
        if let tag = tags.attributes[request.path] { return try attribute(tag, request, limit: limit) }
        switch (request.service, request.path.segments.first) {
        case (ConnectionManager.forwardOpen, .classID(6)?), (ConnectionManager.largeForwardOpen, .classID(6)?):
            return try connections.open(request, session: session, peer: peer, io: io, identity: identity)
        case (ConnectionManager.forwardClose, .classID(6)?):
            return try connections.close(request, io: io)
        case (_, .classID(4)?):
            guard let io else { throw .pathDestinationUnknown }
            return try io.assemblies.serve(request)
        case (_, .classID(1)?):
            return try identityService(request)
        case (Self.getAttributesAll, .classID(0x64)?):
            return CIPReply(service: request.service, data: identity.programNameData)
        case (_, .classID(0x6C)?):
            return try TemplateObject(tags: tags).serve(request, limit: limit)
        case (_, .classID(0x8B)?):
            return try clock.serve(request, limit: limit)
        case (Self.getInstanceAttributeList, _):
            return try SymbolList(tags: tags).serve(request, limit: limit)
        case (_, .classID?):
            throw .pathDestinationUnknown
        default:
            throw .pathSegmentError
        }
    }

    /// A tag defined with an @CLASS/INSTANCE/ATTRIBUTE address: Get and Set
    /// Attribute Single read and write all of it; one too big for a reply is 0x11.
    private func attribute(_ tag: Tag, _ request: CIPRequest, limit: Int) throws(CIPStatus) -> CIPReply {
        let size = tag.type.size * tag.count
        switch request.service {
        case Self.getAttributeSingle:
            guard 4 + size <= limit else { throw .replyTooLarge }
            return CIPReply(service: request.service, data: tag.bytes(at: 0, count: size))
        case Self.setAttributeSingle:
            guard request.data.count >= size else { throw .notEnoughData }
            guard request.data.count == size else { throw .tooMuchData }
            guard !tag.readOnly else { throw .privilegeViolation }
            tag.store(request.data, at: 0)
            return CIPReply(service: request.service)
        default:
            throw .serviceNotSupported
        }
    }

    private func identityService(_ request: CIPRequest) throws(CIPStatus) -> CIPReply {
        guard request.path.segments.count >= 2, request.path.segments[1] == .instance(1) else { throw .pathDestinationUnknown }
        switch request.service {
        case Self.getAttributesAll:
            return CIPReply(service: request.service, data: identity.attributesAll)
        case Self.getAttributeSingle:
            guard request.path.segments.count == 3, case .attribute(let id) = request.path.segments[2] else { throw .pathSegmentError }
            guard let data = identity.attribute(id) else { throw .attributeNotSupported }
            return CIPReply(service: request.service, data: data)
        default:
            throw .serviceNotSupported
        }
    }

    /// The embedded request is carried out here: this server is the whole
    /// route (backplane, slot 0), whatever route path is given.
    private func unconnectedSend(_ request: CIPRequest, session: UInt32, peer: SocketAddress?,
                                 on eventLoop: (any EventLoop)?) throws(CIPStatus) -> Answer<CIPReply> {
        var reader = WireReader(request.data)
        try reader.skip(2)
        let size = Int(try reader.u16())
        let embedded = try reader.take(size)
        return answer(embedded, limit: Self.unconnectedLimit, session: session, peer: peer, on: eventLoop)
    }

    /// Multiple Service Packet: each embedded request answered in turn (a
    /// write through a line is waited for); 0x1E when any of them failed.
    /// The whole reply fits `limit`, as one reply must: each request is given
    /// the room the replies before it left (keeping 4 bytes for each after
    /// it), and a reply that still does not fit is 0x11, reply too large.
    private func multiple(_ request: CIPRequest, limit: Int, session: UInt32, peer: SocketAddress?,
                          on eventLoop: (any EventLoop)?) throws(CIPStatus) -> Answer<CIPReply> {
        let parts = try MultipleServicePacket.unpack(request.data[...])
        var room = Self.packetRoom(limit, parts: parts.count) - 4 * parts.count
        guard room >= 0 else { throw .replyTooLarge }
        var answers: [Answer<CIPReply>] = []
        for part in parts {
            let answer = answer(part, limit: room + 4, session: session, peer: peer, on: eventLoop)
            if case .now(let reply) = answer { room -= max(0, reply.bytes.count - 4) }
            answers.append(answer)
        }
        let service = request.service
        let now = answers.compactMap { if case .now(let reply) = $0 { reply } else { nil } }
        guard now.count < answers.count, let eventLoop else { return .now(Self.packet(now, service: service, limit: limit)) }
        let futures = answers.map { answer -> EventLoopFuture<CIPReply> in
            switch answer {
            case .now(let reply): eventLoop.makeSucceededFuture(reply)
            case .later(let future): future
            }
        }
        return .later(EventLoopFuture.whenAllSucceed(futures, on: eventLoop).map { Self.packet($0, service: service, limit: limit) })
    }

    /// What `limit` leaves for the parts of a Multiple Service Packet reply of
    /// `parts`: less its reply header (4), part count (2) and offsets (2 each).
    private static func packetRoom(_ limit: Int, parts: Int) -> Int { limit - 4 - 2 - 2 * parts }

    /// The Multiple Service Packet reply of `replies`, each that would take
    /// it past `limit` replaced by 0x11 (4 bytes).
    private static func packet(_ replies: [CIPReply], service: UInt8, limit: Int) -> CIPReply {
        var room = Self.packetRoom(limit, parts: replies.count)
        let fitted = replies.enumerated().map { index, reply in
            let kept = reply.bytes.count <= room - 4 * (replies.count - index - 1)
                ? reply : CIPReply(service: reply.service, status: .replyTooLarge)
            room -= kept.bytes.count
            return kept
        }
        let out = MultipleServicePacket.pack(fitted.map(\.bytes))
        let failed = fitted.contains { $0.status != .success && $0.status != .partialTransfer }
        return CIPReply(service: service, status: failed ? .embeddedServiceError : .success, data: out)
    }
}
