#if canImport(Glibc)
import Glibc
#endif

/// What a Class 1 Forward Open asks for, checked against the assemblies and
/// the identity: which assemblies it joins and how. Each refusal is the
/// extended status the CIP specification gives it (Vol. 1, table 3-5.29).
struct IOPlan {
    let kind: IOConnection.Kind
    let input: Assembly
    let output: Assembly?
    /// Whether O→T packets carry the 32-bit run/idle header (outputs always do).
    let header: Bool
    /// Whether T→O goes to a multicast group, shared by every multicast connection to the input.
    let multicast: Bool
    /// Change of state: produced when the input changes, and every RPI besides.
    let changeOfState: Bool
    /// The production inhibit time: the least time between two change-of-state packets.
    let inhibit: Duration

    init(_ request: ForwardOpen, assemblies: AssemblySet, identity: Identity) throws(CIPStatus) {
        // Cyclic or change of state; application-triggered production is not offered.
        guard request.trigger <= 1 else { throw .connectionFailure(0x0103) }
        let path = try ConnectionPath(request.path)
        if let key = path.key { try Self.check(key, against: identity) }
        guard path.classID == 4, path.points.count == 2 else { throw .connectionFailure(0x0315) }
        try Self.checkConfiguration(path, assemblies: assemblies)
        guard let input = assemblies.assemblies[path.points[1]], input.role == .input else { throw .connectionFailure(0x012B) }
        let consumed = path.points[0]
        switch consumed {
        case assemblies.inputOnlyHeartbeat: kind = .inputOnly
        case assemblies.listenOnlyHeartbeat: kind = .listenOnly
        default:
            guard let output = assemblies.assemblies[consumed], output.role == .output else { throw .connectionFailure(0x012A) }
            kind = .exclusiveOwner
        }
        output = kind == .exclusiveOwner ? assemblies.assemblies[consumed] : nil
        self.input = input
        guard request.typeOut == .pointToPoint else { throw .connectionFailure(0x0123) }
        guard request.typeIn == .pointToPoint || request.typeIn == .multicast else { throw .connectionFailure(0x0124) }
        multicast = request.typeIn == .multicast
        guard Self.rpis.contains(request.rpiOut), Self.rpis.contains(request.rpiIn) else { throw .connectionFailure(0x0111) }
        changeOfState = request.trigger == 1
        inhibit = .milliseconds(Int(path.inhibit ?? 0))
        guard inhibit <= .microseconds(Int(request.rpiIn)) else { throw .connectionFailure(0x011B) }
        header = try Self.checkSizes(request, input: input, output: output)
    }

    /// The RPIs served, in microseconds: the exchange's timer counts whole milliseconds.
    static let rpis: ClosedRange<UInt32> = 1_000...10_000_000

    /// Sizes include the 16-bit sequence count, and O→T the run/idle header; a
    /// wrong one is 0x0127 (O→T) or 0x0128 (T→O) with the size expected.
    private static func checkSizes(_ request: ForwardOpen, input: Assembly, output: Assembly?) throws(CIPStatus) -> Bool {
        guard request.sizeIn == input.size + 2 else { throw CIPStatus(0x01, extended: [0x0128, UInt16(input.size + 2)]) }
        guard let output else {
            // A heartbeat carries no data: 0, the sequence count alone, or with a header.
            guard [0, 2, 6].contains(request.sizeOut) else { throw CIPStatus(0x01, extended: [0x0127, 2]) }
            return request.sizeOut == 6
        }
        guard request.sizeOut == output.size + 6 else { throw CIPStatus(0x01, extended: [0x0127, UInt16(output.size + 6)]) }
        return true
    }

    /// The configuration instance, when named, must be a configuration
    /// assembly (0x0129); data sent with it must fill it (0x0126) and is stored.
    private static func checkConfiguration(_ path: ConnectionPath, assemblies: AssemblySet) throws(CIPStatus) {
        guard let instance = path.configuration else { return }
        guard let configuration = assemblies.assemblies[instance], configuration.role == .configuration else {
            throw .connectionFailure(0x0129)
        }
        guard let data = path.data, !data.isEmpty else { return }
        // A data segment counts words: an odd size comes with a pad byte.
        guard data.count == configuration.size || data.count == configuration.size + 1 else {
            throw CIPStatus(0x01, extended: [0x0126, UInt16(configuration.size)])
        }
        configuration.store(Array(data.prefix(configuration.size)))
    }

    /// An electronic key's zero fields match anything; a compatible key takes
    /// the same major revision and any minor up to ours.
    private static func check(_ key: ConnectionPath.Key, against identity: Identity) throws(CIPStatus) {
        if key.vendor != 0 && key.vendor != identity.vendor || key.productCode != 0 && key.productCode != identity.productCode {
            throw .connectionFailure(0x0114)
        }
        if key.deviceType != 0 && key.deviceType != identity.deviceType { throw .connectionFailure(0x0115) }
        guard key.major != 0 else { return }
        let ours = identity.revision
        let minorFits = key.compatible ? key.minor <= ours.minor : (key.minor == 0 || key.minor == ours.minor)
        guard key.major == ours.major, minorFits else { throw .connectionFailure(0x0116) }
    }
}

/// One O→T datagram: a sequenced address item (0x8002: connection id and
/// sequence number) and a connected data item (0x00B1: the 16-bit sequence
/// count, any run/idle header, the data).
struct IOPacket {
    let connection: UInt32
    let sequence: UInt32
    let data: ArraySlice<UInt8>

    init(parsing datagram: ArraySlice<UInt8>) throws(CIPStatus) {
        var reader = WireReader(datagram)
        guard try reader.u16() == 2, try reader.u16() == CommonPacket.sequencedAddress, try reader.u16() == 8 else {
            throw .pathSegmentError
        }
        connection = try reader.u32()
        sequence = try reader.u32()
        guard try reader.u16() == CommonPacket.connectedData else { throw .pathSegmentError }
        data = try reader.take(Int(try reader.u16()))
        guard data.count >= 2 else { throw .notEnoughData }
    }

    /// A T→O packet of `data`: modeless, so the data follows the sequence count.
    static func bytes(connection: UInt32, sequence: UInt32, count: UInt16, data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(18 + data.count)
        out.append16(2)
        out.append16(CommonPacket.sequencedAddress)
        out.append16(8)
        out.append32(connection)
        out.append32(sequence)
        out.append16(CommonPacket.connectedData)
        out.append16(UInt16(2 + data.count))
        out.append16(count)
        return out + data
    }
}

/// One T→O stream: the connection id and address its packets carry, its
/// sequence number and count, and when it is next due. A point-to-point
/// connection has its own; the multicast connections to one input share one.
struct Production {
    let id: UInt32
    let input: Assembly
    let destination: sockaddr_in
    let rpi: Duration
    /// Sent when the input changes (no sooner than `inhibit` after the last packet), and every RPI besides.
    let changeOfState: Bool
    let inhibit: Duration
    /// The origin of the RPI grid a cyclic stream keeps to.
    let epoch: ContinuousClock.Instant
    private(set) var next: ContinuousClock.Instant
    private var earliest: ContinuousClock.Instant
    /// A change-of-state stream heard that its input may have changed.
    private var pending = false
    private var sequence: UInt32 = 0
    private var count: UInt16 = 0
    private var last: [UInt8]?
    private(set) var produced = 0

    init(id: UInt32, plan: IOPlan, rpi: Duration, destination: sockaddr_in, now: ContinuousClock.Instant, epoch: ContinuousClock.Instant) {
        self.id = id
        self.epoch = epoch
        input = plan.input
        self.destination = destination
        self.rpi = rpi
        changeOfState = plan.changeOfState
        inhibit = plan.inhibit
        next = now
        earliest = now
    }

    /// The first point of the RPI grid after `now`.
    private func gridPoint(after now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let period = rpi.timeAmount.nanoseconds
        return epoch + .nanoseconds(((now - epoch).timeAmount.nanoseconds / period + 1) * period)
    }

    /// When it next needs the exchange's thread: its RPI, or a change held back by the inhibit time.
    var wake: ContinuousClock.Instant { pending ? min(next, earliest) : next }

    /// Its input may have changed: a change-of-state stream looks at it at once (or when the inhibit time is up).
    mutating func notice() {
        if changeOfState { pending = true }
    }

    /// The packet due at `now`, if any. The sequence count moves when the
    /// data does; a change-of-state stream woken early sends only new data
    /// and counts its RPI from the last packet; a cyclic one keeps to the
    /// grid of its RPI from `epoch`, which it joins after its first packet.
    mutating func produce(now: ContinuousClock.Instant) -> [UInt8]? {
        guard now >= wake else { return nil }
        let data = input.bytes
        let changed = data != last
        pending = false
        if now < next && !changed { return nil }
        if changed {
            count &+= 1
            last = data
        }
        sequence &+= 1
        produced += 1
        earliest = now + inhibit
        next = changeOfState ? now + rpi : gridPoint(after: now)
        return IOPacket.bytes(connection: id, sequence: sequence, count: count, data: data)
    }
}

/// A Class 1 connection's state, owned by the exchange's lock.
struct IOConnection {
    /// What the connection does with its input and outputs.
    enum Kind: String, Sendable {
        /// Sends outputs and receives inputs; one per output assembly.
        case exclusiveOwner = "exclusive owner"
        /// Receives inputs; its O→T packets are only heartbeats.
        case inputOnly = "input only"
        /// Receives inputs while another connection makes them produced.
        case listenOnly = "listen only"
    }

    /// What consuming one O→T packet asks of the outputs (done outside the lock).
    enum Consumed {
        case data(Assembly, [UInt8])
        case idle(Assembly)
        /// Taken, with nothing for the outputs (a heartbeat, a repeat, Idle again).
        case nothing
        /// Refused: from another address, out of sequence, or of the wrong size.
        case dropped
    }

    let outID: UInt32
    let inID: UInt32
    let triple: ConnectionManager.Triple
    let kind: Kind
    let input: Assembly
    let output: Assembly?
    let header: Bool
    let multicast: Bool
    let rpiOut: Duration
    let timeout: Duration
    /// The originator: O→T packets are taken only from its address.
    let originator: sockaddr_in
    /// Its own T→O stream; nil for a multicast connection, whose stream is its input's group's.
    var production: Production?
    var deadline: ContinuousClock.Instant
    private var heardSequence: UInt32?
    private var heardCount: UInt16?
    /// nil until the first O→T packet; then whether the owner is in Run.
    private var running: Bool?
    private var consumed = 0
    private var dropped = 0

    init(plan: IOPlan, request: ForwardOpen, outID: UInt32, inID: UInt32, originator: sockaddr_in, production: Production?) {
        self.outID = outID
        self.inID = inID
        triple = request.triple
        kind = plan.kind
        input = plan.input
        output = plan.output
        header = plan.header
        multicast = plan.multicast
        rpiOut = .microseconds(Int64(request.rpiOut))
        timeout = request.timeoutOut
        self.originator = originator
        self.production = production
        // The first O→T packet may take longer than the timeout: a controller
        // opens its connections before it sends on them (10 s, as OpENer allows).
        deadline = ContinuousClock.now + max(timeout, .seconds(10))
    }

    /// An O→T packet from `source`: only the originator's, newer than the last,
    /// of the size agreed, keeps the connection alive; an owner's new data
    /// in Run goes to the outputs, and a change to Idle takes the Idle action.
    mutating func consume(_ packet: IOPacket, from source: in_addr_t, now: ContinuousClock.Instant) -> Consumed {
        let size = (output?.size ?? 0) + (header ? 6 : 2)
        let newer = heardSequence.map { Int32(bitPattern: packet.sequence &- $0) > 0 } ?? true
        guard source == originator.sin_addr.s_addr, newer, packet.data.count == size else {
            dropped += 1
            return .dropped
        }
        heardSequence = packet.sequence
        consumed += 1
        deadline = now + timeout
        guard let output else { return .nothing }
        var reader = WireReader(packet.data)
        let count = (try? reader.u16()) ?? 0
        let run = ((try? reader.u32()) ?? 0) & 1 == 1
        guard run else {
            defer { running = false }
            return running == false ? .nothing : .idle(output)
        }
        running = true
        if let heardCount, Int16(bitPattern: count &- heardCount) <= 0 { return .nothing }
        heardCount = count
        return .data(output, Array(reader.rest))
    }

    /// Its status, with the T→O stream it receives (its own, or its group's).
    func status(stream: Production) -> IOConnectionStatus {
        IOConnectionStatus(outID: outID, inID: inID, originator: Self.text(originator.sin_addr), kind: kind.rawValue,
                           input: input.instance, output: output?.instance, rpiIn: stream.rpi, rpiOut: rpiOut,
                           multicast: multicast ? Self.text(stream.destination.sin_addr) : nil, changeOfState: stream.changeOfState,
                           running: running, produced: stream.produced, consumed: consumed, dropped: dropped)
    }

    static func text(_ address: in_addr) -> String {
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        var address = address
        inet_ntop(AF_INET, &address, &text, socklen_t(INET_ADDRSTRLEN))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// One open I/O connection as `fieldgw status` and the metrics show it.
public struct IOConnectionStatus: Sendable, Hashable {
    /// The O→T connection id (the server's).
    public let outID: UInt32
    /// The T→O connection id (the originator's).
    public let inID: UInt32
    /// The originator's IPv4 address.
    public let originator: String
    /// "exclusive owner", "input only" or "listen only".
    public let kind: String
    /// The input assembly produced.
    public let input: UInt32
    /// The output assembly consumed (exclusive owners only).
    public let output: UInt32?
    /// The T→O requested packet interval.
    public let rpiIn: Duration
    /// The O→T requested packet interval.
    public let rpiOut: Duration
    /// The multicast group T→O packets go to; nil when they go to the originator alone.
    public let multicast: String?
    /// Whether the inputs are produced on change (and every RPI), rather than every RPI alone.
    public let changeOfState: Bool
    /// The owner's mode: true in Run, false in Idle, nil before its first packet (or for a connection with no outputs).
    public let running: Bool?
    /// T→O packets sent (to the group, for a multicast connection).
    public let produced: Int
    /// O→T packets taken.
    public let consumed: Int
    /// O→T packets refused: from another address, out of sequence, or of the wrong size.
    public let dropped: Int
}
