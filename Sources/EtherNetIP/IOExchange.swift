#if canImport(Glibc)
import Glibc
#endif
import CSerialShim
import Logging
import NIOCore
import Synchronization
import Threads

/// Class 1 (implicit I/O) connections on UDP: the originator's O→T packets
/// consumed into output assemblies, the input assemblies produced T→O every
/// RPI, each connection closed (and its timeout action applied) when its
/// O→T packets stop for the RPI times the timeout multiplier.
///
/// One thread serves every connection through one socket, bound to `port`
/// (2222 by the standard; a test picks its own). The Forward Open reply
/// names that port (item 0x8000), so originators send there; T→O packets go
/// to the originator's address at `destinationPort` (2222, where
/// originators listen), or, for connections that ask for multicast, to the
/// input's group at that port (item 0x8001), one stream for all of them.
public final class IOExchange: Sendable {
    /// An I/O socket that could not be opened.
    public struct SocketError: Error, CustomStringConvertible, Sendable {
        /// What failed, and why.
        public let description: String
    }

    /// The assemblies the connections exchange, and their heartbeat points.
    public let assemblies: AssemblySet
    /// The UDP port O→T packets come to (the one asked for, or the one port 0 picked).
    public let port: Int
    /// The UDP port T→O packets go to on the originator's host.
    public let destinationPort: UInt16
    /// The hops multicast T→O packets may take (IP_MULTICAST_TTL).
    public let multicastTTL: Int
    /// How long before each production the thread stops sleeping and spins (0: it sleeps to the time).
    public let spin: Duration
    /// The origin of every cyclic stream's RPI grid: streams with one RPI produce together.
    private let epoch = ContinuousClock.now
    private let socket: Int32
    private let waker: Waker
    private let state = Mutex(State())
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<WorkerThread?>(nil)
    private let nextID = Atomic<UInt32>(0x2000_0001)
    private let logger: Logger
    private let metrics: IOMetrics?

    struct State {
        var connections: [UInt32: IOConnection] = [:]
        /// The multicast T→O streams, by input assembly.
        var groups: [UInt32: MulticastGroup] = [:]
        var closedByTimeout = 0

        /// The stream a connection receives: its own, or its input's group's.
        func stream(of connection: IOConnection) -> Production? {
            connection.production ?? groups[connection.input.instance]?.production
        }
    }

    /// A multicast T→O stream and the interface it leaves by.
    struct MulticastGroup {
        var production: Production
        let interface: in_addr
    }

    /// Opens the socket on `host:port` (an IPv4 address; port 0 picks one)
    /// and starts serving; `metrics` counts connections and packets.
    public init(assemblies: AssemblySet, host: String = "0.0.0.0", port: Int = 2222, destinationPort: UInt16 = 2222,
                multicastTTL: Int = 1, spin: Duration = .zero, metrics: IOMetrics? = nil,
                logger: Logger = Logger(label: "fieldgw.enip.io")) throws(SocketError) {
        self.assemblies = assemblies
        self.destinationPort = destinationPort
        self.multicastTTL = multicastTTL
        self.spin = spin
        self.logger = logger
        self.metrics = metrics
        (socket, self.port) = try Self.bind(host: host, port: port, ttl: multicastTTL)
        do {
            waker = try Waker()
        } catch {
            Glibc.close(socket)
            throw error
        }
        for assembly in assemblies.assemblies.values where assembly.role == .input {
            assembly.wake { [waker] instance in waker.wake(instance) }
        }
        let worker = WorkerThread(name: "enip io") { [self] in run() }
        thread.withLock { $0 = worker }
    }

    /// Stops producing and consuming and closes the socket; the connections end.
    public func stop() {
        guard let worker = thread.withLock({ worker -> WorkerThread? in defer { worker = nil }; return worker }) else { return }
        for assembly in assemblies.assemblies.values where assembly.role == .input { assembly.wake(nil) }
        stopping.store(true, ordering: .releasing)
        waker.wake(nil)
        worker.join()
        waker.close()
        Glibc.close(socket)
    }

    /// The I/O connections open now.
    public var count: Int { state.withLock { $0.connections.count } }

    /// What each open connection is and has done, for status and metrics.
    public var connections: [IOConnectionStatus] {
        state.withLock { state in
            state.connections.values.compactMap { connection in state.stream(of: connection).map { connection.status(stream: $0) } }
        }.sorted { $0.outID < $1.outID }
    }

    /// Connections closed because their O→T packets stopped.
    public var timeouts: Int { state.withLock { $0.closedByTimeout } }

    private static func bind(host: String, port: Int, ttl: Int) throws(SocketError) -> (Int32, Int) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw SocketError(description: "\(host) is not an IPv4 address") }
        let fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket: \(String(cString: strerror(errno)))") }
        // Another program's I/O socket may share the port on another address (an originator's on 0.0.0.0:2222).
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var hops = Int32(ttl)
        setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &hops, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw SocketError(description: "\(host):\(port): \(reason)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    // MARK: Forward Open and Forward Close

    /// Opens a Class 1 connection for `request`, from the originator at
    /// `peer`; `room` says whether the server may hold one more connection.
    /// A request that cannot be met gets the failure reply its extended status names.
    func open(_ request: ForwardOpen, peer: SocketAddress?, identity: Identity, room: Bool) -> CIPReply {
        do {
            let plan = try IOPlan(request, assemblies: assemblies, identity: identity)
            guard case .v4(let address)? = peer else { return request.failure(0x0108) }
            let originator = address.address
            return state.withLock { state in
                if let refusal = refusal(of: plan, request: request, state: state, room: room) { return refusal }
                let outID = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
                let now = ContinuousClock.now
                let rpi = Duration.microseconds(Int64(request.rpiIn))
                var production: Production?
                if plan.multicast {
                    if state.groups[plan.input.instance] == nil {
                        guard let group = multicastGroup(plan, rpi: rpi, toward: originator.sin_addr, now: now) else {
                            return request.failure(0x0124)
                        }
                        state.groups[plan.input.instance] = group
                    }
                } else {
                    var destination = originator
                    destination.sin_port = destinationPort.bigEndian
                    let inID = request.inID != 0 ? request.inID : nextID.wrappingAdd(1, ordering: .relaxed).oldValue
                    production = Production(id: inID, plan: plan, rpi: rpi, destination: destination, now: now, epoch: epoch)
                }
                let stream = production ?? state.groups[plan.input.instance]!.production
                state.connections[outID] = IOConnection(plan: plan, request: request, outID: outID, inID: stream.id,
                                                        originator: originator, production: production)
                metrics?.connections.record(state.connections.count)
                // Its first packet is due now: the thread may be asleep until another's.
                waker.wake(nil)
                logger.notice("I/O connection opened", metadata: ["originator": "\(peer!)", "kind": "\(plan.kind)",
                                                                  "input": "\(plan.input.instance)", "rpi_us": "\(request.rpiIn)",
                                                                  "multicast": "\(plan.multicast)"])
                return reply(to: request, outID: outID, stream: stream, multicast: plan.multicast)
            }
        } catch {
            return request.failure(error)
        }
    }

    /// The input's multicast stream: a group of the CIP allocation for the
    /// interface the originator is reached by (CIP Vol. 2, 3-5.3), one of
    /// its 32 addresses per input assembly. nil when there is no route.
    private func multicastGroup(_ plan: IOPlan, rpi: Duration, toward originator: in_addr,
                                now: ContinuousClock.Instant) -> MulticastGroup? {
        let inputs = assemblies.assemblies.values.filter { $0.role == .input }.map(\.instance).sorted()
        let ordinal = inputs.firstIndex(of: plan.input.instance) ?? 0
        guard let (group, interface) = MulticastAddress.allocate(toward: originator, ordinal: ordinal) else { return nil }
        var destination = sockaddr_in()
        destination.sin_family = sa_family_t(AF_INET)
        destination.sin_addr = group
        destination.sin_port = destinationPort.bigEndian
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        return MulticastGroup(production: Production(id: id, plan: plan, rpi: rpi, destination: destination, now: now, epoch: epoch),
                              interface: interface)
    }

    /// Refusals that depend on the connections already open: a duplicate, no room, a second owner, a listener with nobody to listen to.
    private func refusal(of plan: IOPlan, request: ForwardOpen, state: State, room: Bool) -> CIPReply? {
        let open = state.connections.values
        if open.contains(where: { $0.triple == request.triple }) { return request.failure(0x0100) }
        guard room else { return request.failure(0x0113) }
        if plan.kind == .exclusiveOwner, open.contains(where: { $0.kind == .exclusiveOwner && $0.output === plan.output }) {
            return request.failure(0x0106)
        }
        if plan.kind == .listenOnly, !open.contains(where: { $0.kind != .listenOnly && $0.input === plan.input }) {
            return request.failure(0x0119)
        }
        guard plan.multicast, let group = state.groups[plan.input.instance]?.production else { return nil }
        return joining(group, plan: plan, request: request)
    }

    /// A connection joining a multicast stream must take it as it is: its
    /// RPI (0x0112, with the RPI required), trigger (0x0138) and inhibit time (0x0139).
    private func joining(_ group: Production, plan: IOPlan, request: ForwardOpen) -> CIPReply? {
        if group.rpi != .microseconds(Int64(request.rpiIn)) {
            // Extended words: the code, the O→T and T→O acceptable-RPI types (0: fine; 4: required), then both RPIs.
            let required = UInt32(group.rpi / .microseconds(1))
            let words: [UInt16] = [0x0112, 0x0400, UInt16(request.rpiOut & 0xFFFF), UInt16(request.rpiOut >> 16),
                                   UInt16(required & 0xFFFF), UInt16(required >> 16)]
            return request.failure(CIPStatus(0x01, extended: words))
        }
        if group.changeOfState != plan.changeOfState { return request.failure(0x0138) }
        if group.inhibit != plan.inhibit { return request.failure(0x0139) }
        return nil
    }

    /// The success reply: ids, the triple, the intervals granted, where O→T
    /// packets go (item 0x8000) and, for multicast, the group T→O packets come from (0x8001).
    private func reply(to request: ForwardOpen, outID: UInt32, stream: Production, multicast: Bool) -> CIPReply {
        var data: [UInt8] = []
        data.append32(outID)
        data.append32(stream.id)
        data += request.triple.bytes
        data.append32(request.rpiOut)
        data.append32(request.rpiIn)
        data += [0, 0]
        // sockaddr_in as CIP carries it: big-endian family, port and address; 0.0.0.0 is "the host you reached".
        var items = [CommonPacket.Item(type: CommonPacket.outputSocketAddress, data: Self.socketAddress(port: UInt16(port), address: 0))]
        if multicast {
            let group = stream.destination.sin_addr.s_addr
            items.append(CommonPacket.Item(type: CommonPacket.inputSocketAddress,
                                           data: Self.socketAddress(port: destinationPort, address: UInt32(bigEndian: group))))
        }
        return CIPReply(service: request.service, data: data, items: items)
    }

    private static func socketAddress(port: UInt16, address: UInt32) -> [UInt8] {
        var bytes: [UInt8] = [0, 2, UInt8(port >> 8), UInt8(port & 0xFF)]
        bytes += [UInt8(address >> 24), UInt8(address >> 16 & 0xFF), UInt8(address >> 8 & 0xFF), UInt8(address & 0xFF)]
        return bytes + [UInt8](repeating: 0, count: 8)
    }

    /// Forward Close of a Class 1 connection: the owner's outputs take their
    /// Idle action. False when no connection has that triple.
    func close(_ triple: ConnectionManager.Triple) -> Bool {
        let closed = state.withLock { state -> IOConnection? in
            guard let id = state.connections.first(where: { $0.value.triple == triple })?.key else { return nil }
            defer { metrics?.connections.record(state.connections.count) }
            return state.connections.removeValue(forKey: id)
        }
        guard let closed else { return false }
        if closed.kind == .exclusiveOwner, let output = closed.output { output.apply(output.onIdle) }
        closeOrphans(of: closed)
        return true
    }

    /// Listen-only connections end with the last connection that made their
    /// input produced, and a multicast stream with the last connection receiving it.
    private func closeOrphans(of closed: IOConnection) {
        state.withLock { state in
            let input = closed.input
            if !state.connections.values.contains(where: { $0.kind != .listenOnly && $0.input === input }) {
                state.connections = state.connections.filter { $0.value.kind != .listenOnly || $0.value.input !== input }
                metrics?.connections.record(state.connections.count)
            }
            if !state.connections.values.contains(where: { $0.multicast && $0.input === input }) {
                state.groups[input.instance] = nil
            }
        }
    }

    // MARK: The exchange

    private func run() {
        _ = fgw_precise_timers()
        var buffer = [UInt8](repeating: 0, count: 1500)
        var waits = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0), pollfd(fd: waker.descriptor, events: Int16(POLLIN), revents: 0)]
        while !stopping.load(ordering: .acquiring) {
            let now = ContinuousClock.now
            produce(now)
            expire(now)
            waits[0].revents = 0
            waits[1].revents = 0
            let next = nextWake()
            // Sleep until `spin` before the next production or deadline (50 ms at most, so `stop` is heard), then spin.
            let sleep = next.map { $0 - spin - .now } ?? .milliseconds(50)
            _ = fgw_wait_many(&waits, 2, min(.milliseconds(50), max(.zero, sleep)).timeAmount.nanoseconds)
            if waits[1].revents & Int16(POLLIN) != 0 { notice(waker.drain()) }
            if waits[0].revents & Int16(POLLIN) != 0 { receive(&buffer) }
            // A wake from sleep can come a millisecond late on a virtual machine; a thread that spins is on time.
            if let next, spin > .zero, next - .now <= spin {
                while ContinuousClock.now < next {}
            }
        }
    }

    /// The next production or deadline; nil when there is no connection.
    private func nextWake() -> ContinuousClock.Instant? {
        state.withLock { state in
            (state.connections.values.map { min($0.production?.wake ?? $0.deadline, $0.deadline) }
                + state.groups.values.map(\.production.wake)).min()
        }
    }

    /// The change-of-state streams of the inputs that changed look at them now.
    private func notice(_ changed: Set<UInt32>) {
        guard !changed.isEmpty else { return }
        state.withLock { state in
            for id in state.connections.keys where changed.contains(state.connections[id]!.input.instance) {
                state.connections[id]!.production?.notice()
            }
            for instance in state.groups.keys where changed.contains(instance) { state.groups[instance]!.production.notice() }
        }
    }

    /// Sends the T→O packet of every stream due: each point-to-point
    /// connection's, and each multicast group's once for all its connections.
    private func produce(_ now: ContinuousClock.Instant) {
        let (packets, multicast) = state.withLock { state in
            let packets = state.connections.keys.compactMap { id -> (sockaddr_in, [UInt8])? in
                guard let packet = state.connections[id]!.production?.produce(now: now) else { return nil }
                return (state.connections[id]!.production!.destination, packet)
            }
            let multicast = state.groups.keys.compactMap { instance -> (MulticastGroup, [UInt8])? in
                guard let packet = state.groups[instance]!.production.produce(now: now) else { return nil }
                return (state.groups[instance]!, packet)
            }
            return (packets, multicast)
        }
        for (destination, packet) in packets { send(packet, to: destination) }
        for (group, packet) in multicast {
            var interface = group.interface
            setsockopt(socket, Int32(IPPROTO_IP), IP_MULTICAST_IF, &interface, socklen_t(MemoryLayout<in_addr>.size))
            send(packet, to: group.production.destination)
        }
        let count = packets.count + multicast.count
        if count > 0 { metrics?.produced.increment(by: count) }
    }

    /// Closes the connections whose O→T packets stopped, and applies their outputs' timeout action.
    private func expire(_ now: ContinuousClock.Instant) {
        let expired = state.withLock { state -> [IOConnection] in
            let gone = state.connections.values.filter { now >= $0.deadline }
            for connection in gone { state.connections[connection.outID] = nil }
            state.closedByTimeout += gone.count
            if !gone.isEmpty { metrics?.connections.record(state.connections.count) }
            return gone
        }
        if !expired.isEmpty { metrics?.timeouts.increment(by: expired.count) }
        for connection in expired {
            logger.notice("I/O connection timed out", metadata: ["originator": "\(IOConnection.text(connection.originator.sin_addr))",
                                                                "kind": "\(connection.kind)"])
            if connection.kind == .exclusiveOwner, let output = connection.output { output.apply(output.onTimeout) }
            closeOrphans(of: connection)
        }
    }

    private func send(_ packet: [UInt8], to destination: sockaddr_in) {
        var destination = destination
        _ = packet.withUnsafeBytes { bytes in
            withUnsafePointer(to: &destination) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(socket, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// Reads every datagram waiting; each that is an O→T packet of an open connection is consumed.
    private func receive(_ buffer: inout [UInt8]) {
        while true {
            var source = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let count = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(socket, bytes.baseAddress, bytes.count, 0, $0, &length) }
                }
            }
            guard count >= 0 else { return }
            consume(buffer[..<count], from: source.sin_addr.s_addr)
        }
    }

    private func consume(_ datagram: ArraySlice<UInt8>, from source: in_addr_t) {
        guard let packet = try? IOPacket(parsing: datagram) else {
            metrics?.dropped.increment()
            return
        }
        let now = ContinuousClock.now
        let outcome = state.withLock { state -> IOConnection.Consumed? in
            guard state.connections[packet.connection] != nil else { return nil }
            return state.connections[packet.connection]!.consume(packet, from: source, now: now)
        }
        switch outcome {
        case .data(let output, let bytes)?: output.store(bytes)
        case .idle(let output)?: output.apply(output.onIdle)
        case .nothing?, .dropped?, nil: break
        }
        switch outcome {
        case .dropped?, nil: metrics?.dropped.increment()
        default: metrics?.consumed.increment()
        }
    }
}

/// Wakes the exchange's thread from its wait (an eventfd in its poll set)
/// and keeps which inputs said they changed.
final class Waker: Sendable {
    let descriptor: Int32
    private let changed = Mutex<(open: Bool, instances: Set<UInt32>)>((true, []))

    init() throws(IOExchange.SocketError) {
        descriptor = fgw_event_descriptor()
        guard descriptor >= 0 else { throw IOExchange.SocketError(description: "eventfd: \(String(cString: strerror(errno)))") }
    }

    /// Input `instance` changed (nil: only wake the thread).
    func wake(_ instance: UInt32?) {
        changed.withLock { changed in
            guard changed.open else { return }
            if let instance { changed.instances.insert(instance) }
            var one: UInt64 = 1
            _ = Glibc.write(descriptor, &one, 8)
        }
    }

    /// The inputs that changed since the last time; the wake is consumed.
    func drain() -> Set<UInt32> {
        var count: UInt64 = 0
        _ = Glibc.read(descriptor, &count, 8)
        return changed.withLock { changed in defer { changed.instances = [] }; return changed.instances }
    }

    func close() {
        changed.withLock { changed in
            changed.open = false
            Glibc.close(descriptor)
        }
    }
}
