#if canImport(Glibc)
import Glibc
#endif
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
/// originators listen).
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
    private let socket: Int32
    private let state = Mutex(State())
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<WorkerThread?>(nil)
    private let nextID = Atomic<UInt32>(0x2000_0001)
    private let logger: Logger
    private let metrics: IOMetrics?

    struct State {
        var connections: [UInt32: IOConnection] = [:]
        var closedByTimeout = 0
    }

    /// Opens the socket on `host:port` (an IPv4 address; port 0 picks one)
    /// and starts serving; `metrics` counts connections and packets.
    public init(assemblies: AssemblySet, host: String = "0.0.0.0", port: Int = 2222, destinationPort: UInt16 = 2222,
                metrics: IOMetrics? = nil, logger: Logger = Logger(label: "fieldgw.enip.io")) throws(SocketError) {
        self.assemblies = assemblies
        self.destinationPort = destinationPort
        self.logger = logger
        self.metrics = metrics
        (socket, self.port) = try Self.bind(host: host, port: port)
        let worker = WorkerThread(name: "enip io") { [self] in run() }
        thread.withLock { $0 = worker }
    }

    /// Stops producing and consuming and closes the socket; the connections end.
    public func stop() {
        guard let worker = thread.withLock({ worker -> WorkerThread? in defer { worker = nil }; return worker }) else { return }
        stopping.store(true, ordering: .releasing)
        worker.join()
        Glibc.close(socket)
    }

    deinit { stop() }

    /// The I/O connections open now.
    public var count: Int { state.withLock { $0.connections.count } }

    /// What each open connection is and has done, for status and metrics.
    public var connections: [IOConnectionStatus] {
        state.withLock { $0.connections.values.map(\.status) }.sorted { $0.outID < $1.outID }
    }

    /// Connections closed because their O→T packets stopped.
    public var timeouts: Int { state.withLock { $0.closedByTimeout } }

    private static func bind(host: String, port: Int) throws(SocketError) -> (Int32, Int) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw SocketError(description: "\(host) is not an IPv4 address") }
        let fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket: \(String(cString: strerror(errno)))") }
        // Another program's I/O socket may share the port on another address (an originator's on 0.0.0.0:2222).
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
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
            return state.withLock { state in
                if let refusal = refusal(of: plan, request: request, state: state, room: room) { return refusal }
                let outID = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
                let inID = request.inID != 0 ? request.inID : nextID.wrappingAdd(1, ordering: .relaxed).oldValue
                var destination = address.address
                destination.sin_port = destinationPort.bigEndian
                state.connections[outID] = IOConnection(plan: plan, request: request, outID: outID, inID: inID, destination: destination)
                metrics?.connections.record(state.connections.count)
                logger.notice("I/O connection opened", metadata: ["originator": "\(peer!)", "kind": "\(plan.kind)",
                                                                  "input": "\(plan.input.instance)", "rpi_us": "\(request.rpiIn)"])
                return reply(to: request, outID: outID, inID: inID)
            }
        } catch {
            return request.failure(error)
        }
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
        return nil
    }

    /// The success reply: ids, the triple, the intervals granted, and where O→T packets go (item 0x8000).
    private func reply(to request: ForwardOpen, outID: UInt32, inID: UInt32) -> CIPReply {
        var data: [UInt8] = []
        data.append32(outID)
        data.append32(inID)
        data += request.triple.bytes
        data.append32(request.rpiOut)
        data.append32(request.rpiIn)
        data += [0, 0]
        // sockaddr_in as CIP carries it: big-endian family, port and address; 0.0.0.0 is "the host you reached".
        let port = UInt16(port)
        let socketAddress: [UInt8] = [0, 2, UInt8(port >> 8), UInt8(port & 0xFF), 0, 0, 0, 0] + [UInt8](repeating: 0, count: 8)
        return CIPReply(service: request.service, data: data,
                        items: [CommonPacket.Item(type: CommonPacket.outputSocketAddress, data: socketAddress)])
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

    /// Listen-only connections end with the last connection that made their input produced.
    private func closeOrphans(of closed: IOConnection) {
        state.withLock { state in
            let input = closed.input
            guard !state.connections.values.contains(where: { $0.kind != .listenOnly && $0.input === input }) else { return }
            state.connections = state.connections.filter { $0.value.kind != .listenOnly || $0.value.input !== input }
            metrics?.connections.record(state.connections.count)
        }
    }

    // MARK: The exchange

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 1500)
        while !stopping.load(ordering: .acquiring) {
            let now = ContinuousClock.now
            produce(now)
            expire(now)
            var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, waitMilliseconds(after: .now))
            if poller.revents & Int16(POLLIN) != 0 { receive(&buffer) }
        }
    }

    /// Until the next production or deadline, rounded up to a millisecond; at most 50 ms, so `stop` is heard.
    private func waitMilliseconds(after now: ContinuousClock.Instant) -> Int32 {
        let next = state.withLock { state in state.connections.values.map { min($0.nextProduction, $0.deadline) }.min() }
        guard let next else { return 50 }
        let wait = next - now
        guard wait > .zero else { return 0 }
        let (seconds, attoseconds) = wait.components
        return Int32(min(50, seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
    }

    /// Sends the T→O packet of every connection due, and schedules its next on the RPI's grid.
    private func produce(_ now: ContinuousClock.Instant) {
        let packets = state.withLock { state in
            state.connections.values.compactMap { connection -> (sockaddr_in, [UInt8])? in
                guard now >= connection.nextProduction else { return nil }
                return state.connections[connection.outID]!.produce(now: now)
            }
        }
        for (destination, packet) in packets { send(packet, to: destination) }
        if !packets.isEmpty { metrics?.produced.increment(by: packets.count) }
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
            logger.notice("I/O connection timed out", metadata: ["connection": "\(connection.status.originator)", "kind": "\(connection.kind)"])
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
