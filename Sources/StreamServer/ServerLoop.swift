#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import Foundation
import Logging
import NIOCore
import Synchronization
import Threads

/// One thread of a stream server (Modbus/TCP, EtherNet/IP): an epoll set of
/// its listening socket, its clients and a wake-up eventfd. Requests are
/// framed, served and answered on this thread by each client's session;
/// replies that must wait (a serial line) come back through `post`, from any thread.
///
/// Not a SwiftNIO channel pipeline: measured with 16 connections and one
/// request in flight each, NIO spent about 4.7 µs of user time per request
/// before any Modbus work, which left the server no faster than libmodbus.
/// Here a request costs one read, one write and what the session does.
final class ServerLoop: @unchecked Sendable {
    /// What every loop of one server shares: its protocol, what it was asked
    /// to be, and its count of connections against the limit.
    struct Settings: Sendable {
        let service: any StreamService
        let options: StreamServer.Options
        let connections: ConnectionCounter
        let group: any EventLoopGroup
        let logger: Logger
    }

    private struct Posted {
        var replies: [(connection: Int, sequence: Int, reply: [UInt8]?)] = []
        /// Clients to close, asked from other threads (the web API's eof).
        var closing: [Int] = []
        /// No more connections or requests: the replies still due are sent, then it stops.
        var draining = false
        /// Stop once every reply due is sent, or at this instant.
        var stopping: ContinuousClock.Instant?
        var stopped = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    /// How long the loop looks for more work without sleeping after some
    /// (busy polling). Measured on one pipelined connection: 119,000–157,000
    /// req/s sleeping at once (the server at half a core, waiting on
    /// wake-ups), 325,000 with 100 µs; an idle server still sleeps.
    private static let spin = Duration.microseconds(100)
    /// Looks that found work, less those that found none (0 to 8): the loop
    /// spins while they pay. In the gateway a request goes to a serial line
    /// and its reply comes milliseconds later, so a look after it finds
    /// nothing: at 8 lines they were a tenth of the gateway's CPU.
    private var spinScore = 8
    /// Wake-ups since the last look: one in 32 looks again while the score is 0.
    private var wakesSinceLook = 0
    private static let listenerKey = UInt64.max
    private static let wakeKey = UInt64(0)

    private let settings: Settings
    private let listener: Int32
    private let epoll: Int32
    private let wake: Int32
    private let posted = Mutex(Posted())
    /// The clients and what each has sent, for other threads to read.
    private let roster = Mutex<[Int: ConnectedClient]>([:])
    /// By `StreamClient.id`, which (unlike a socket number) is never reused.
    private var clients: [Int: ServerConnection] = [:]
    private var draining = false
    private var nextSweep = ContinuousClock.now
    /// Counted here, handed to the metrics once per wake-up.
    private var tally = LoopTally()

    init(listener: Int32, settings: Settings) throws(ServerSocketError) {
        self.listener = listener
        self.settings = settings
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wake = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard epoll >= 0, wake >= 0 else { throw ServerSocketError(operation: "epoll", code: errno) }
        watch(listener, key: Self.listenerKey, events: EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
        watch(wake, key: Self.wakeKey, events: EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
    }

    /// Closes what `init` opened, for a loop never started (a sibling's bind failed).
    func abandon() {
        Glibc.close(listener)
        Glibc.close(epoll)
        Glibc.close(wake)
    }

    /// Runs until `stop`, on a thread of its own.
    func start() {
        WorkerThread.detach(name: "server loop") { [self] in run() }
    }

    /// Stops accepting clients and reading requests; replies still due go
    /// out as they come (`stop` waits for them).
    func drain() {
        posted.withLock { state in
            guard !state.stopped else { return }
            state.draining = true
            signal()
        }
    }

    /// Stops serving once the replies due are sent, or after `grace`: every
    /// client and the listening socket are closed when it returns.
    func stop(grace: Duration) async {
        await withCheckedContinuation { continuation in
            let done = posted.withLock { state -> Bool in
                guard !state.stopped else { return true }
                state.draining = true
                state.stopping = min(state.stopping ?? .now + grace, .now + grace)
                state.waiting.append(continuation)
                signal()
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// The clients connected now.
    var connected: [ConnectedClient] { roster.withLock { Array($0.values) } }

    /// Closes the client `id` (from any thread); false if it is not this loop's.
    func disconnect(_ id: Int) -> Bool {
        guard roster.withLock({ $0[id] != nil }) else { return false }
        posted.withLock { state in
            guard !state.stopped else { return }
            state.closing.append(id)
            signal()
        }
        return true
    }

    /// A reply that had to wait, from whatever thread finished it.
    private func post(connection: Int, sequence: Int, reply: [UInt8]?) {
        posted.withLock { state in
            guard !state.stopped else { return }
            state.replies.append((connection, sequence, reply))
            if state.replies.count == 1 { signal() }
        }
    }

    /// Wakes the loop (called with `posted` locked, so the eventfd is still open).
    private func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, 8)
    }

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        var busyUntil = ContinuousClock.now
        while !finished() {
            // Just after work, look again without sleeping for a moment: a
            // pipelining client's next request usually comes within it, and a
            // sleep and wake-up cost more than the look.
            let spinning = ContinuousClock.now < busyUntil
            let count = epoll_wait(epoll, &events, Int32(events.count), spinning ? 0 : sleepLimit())
            if count > 0 {
                if spinning { spinScore = min(8, spinScore + 1) }
                busyUntil = shouldLook() ? ContinuousClock.now + Self.spin : .now
            } else if spinning && ContinuousClock.now >= busyUntil {
                spinScore = max(0, spinScore - 1)
            }
            if count < 0 && errno != EINTR {
                settings.logger.error("\(settings.service.name) server stops: epoll_wait: \(String(cString: strerror(errno)))")
                break
            }
            for event in events.prefix(Int(max(count, 0))) { dispatch(event) }
            if let metrics = settings.options.metrics, !tally.isEmpty { metrics.add(&tally, connected: settings.connections.current) }
            if ContinuousClock.now >= nextSweep { sweep() }
        }
        shutDown()
    }

    /// Whether to look for more work before sleeping: while looks pay, and
    /// now and then when they have not, to see whether they would again.
    private func shouldLook() -> Bool {
        wakesSinceLook += 1
        guard spinScore > 0 || wakesSinceLook >= 32 else { return false }
        wakesSinceLook = 0
        return true
    }

    /// True once stopping and every reply due is out (or the grace is over);
    /// starts draining when asked to.
    private func finished() -> Bool {
        let (drain, stopping) = posted.withLock { ($0.draining, $0.stopping) }
        if drain && !draining { beginDraining() }
        guard let stopping else { return false }
        return clients.isEmpty || ContinuousClock.now >= stopping
    }

    /// The listening socket closes (new clients are refused by the kernel)
    /// and no more requests are read; clients with nothing due are closed now.
    private func beginDraining() {
        draining = true
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, listener, nil)
        Glibc.close(listener)
        for client in Array(clients.values) {
            client.closing = true
            client.input.clear()
            send(client)
        }
    }

    /// How long epoll may sleep, in milliseconds: until the next sweep of
    /// idle and half-sent connections while there are clients.
    private func sleepLimit() -> Int32 {
        if draining { return 20 }
        guard !clients.isEmpty else { return -1 }
        let wait = nextSweep - ContinuousClock.now
        return Int32(max(0, min(1000, wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)))
    }

    /// Closes clients idle past the idle timeout (with nothing due to them)
    /// and clients whose unfinished frame is older than the frame timeout.
    private func sweep() {
        let now = ContinuousClock.now
        let timeouts = settings.options.timeouts
        nextSweep = now + Self.sweepInterval
        for client in Array(clients.values) {
            // A client paused for not reading its replies is not late with its frame: we are.
            let reading = client.interest & EPOLLIN.rawValue != 0
            if reading, let since = client.partialSince, now - since > timeouts.frame {
                drop(client, because: ClosedByServer(what: "a frame begun \(now - since) ago is still not whole"))
            } else if let idle = timeouts.idle, client.isIdle, now - client.lastActivity > idle {
                drop(client, because: ClosedByServer(what: "idle for \(idle)"))
            }
        }
    }

    private static let sweepInterval = Duration.milliseconds(250)

    private func dispatch(_ event: epoll_event) {
        switch event.data.u64 {
        case Self.listenerKey: acceptClients()
        case Self.wakeKey: deliverPosted()
        case let key:
            guard let client = clients[Int(key)] else { return }
            if event.events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { receive(client) }
            if event.events & EPOLLOUT.rawValue != 0, clients[client.remote.id] != nil { send(client) }
        }
    }

    private func shutDown() {
        for client in clients.values { drop(client, because: nil) }
        if !draining { Glibc.close(listener) }
        Glibc.close(epoll)
        let waiting = posted.withLock { state in
            state.stopped = true
            Glibc.close(wake)
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    private func watch(_ socket: Int32, key: UInt64, events: UInt32, operation: Int32) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = key
        _ = epoll_ctl(epoll, operation, socket, &event)
    }
}

extension ServerLoop {
    private func acceptClients() {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let socket = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listener, $0, &length)
                }
            }
            if socket < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno != EAGAIN { settings.logger.warning("\(settings.service.name) accept: \(String(cString: strerror(errno)))") }
                return
            }
            admit(socket, from: SocketAddress(storage))
        }
    }

    private func admit(_ socket: Int32, from address: SocketAddress?) {
        // 127.0.0.1:47398, not NIO's "[IPv4]127.0.0.1/127.0.0.1:47398".
        let peer = address.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        if let accepts = settings.options.accepts, !accepts(address) {
            settings.logger.notice("refused \(settings.service.name) connection from \(peer): not in the allow list")
            return _ = Glibc.close(socket)
        }
        // At the limit the longest-idle client makes room: idle connections
        // held open (by mistake or on purpose) cannot lock everyone out.
        if !settings.connections.open() {
            guard let idlest = clients.values.filter(\.isIdle).min(by: { $0.lastActivity < $1.lastActivity }) else {
                settings.logger.notice("refused \(settings.service.name) connection from \(peer): connection limit reached, every client busy")
                return _ = Glibc.close(socket)
            }
            drop(idlest, because: ClosedByServer(what: "the longest idle at the connection limit, closed for a new client"))
            guard settings.connections.open() else { return _ = Glibc.close(socket) }
        }
        // accept4 is hidden from Swift behind _GNU_SOURCE: two fcntl calls per client instead.
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
        _ = fcntl(socket, F_SETFD, FD_CLOEXEC)
        var on: Int32 = 1
        _ = setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        if var size = settings.options.sendBuffer { _ = setsockopt(socket, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        let streamClient = StreamClient(peer: peer, address: address, localAddress: try? StreamServer.boundAddress(of: socket),
                                        eventLoop: settings.group.next()) { [self] id, sequence, reply in
            post(connection: id, sequence: sequence, reply: reply)
        }
        let client = ServerConnection(socket: socket, remote: streamClient, session: settings.service.session(for: streamClient),
                                      interest: EPOLLIN.rawValue)
        clients[streamClient.id] = client
        if settings.options.trackClients {
            roster.withLock {
                $0[streamClient.id] = ConnectedClient(id: streamClient.id, interface: address?.ipAddress ?? "?", port: address?.port ?? 0)
            }
        }
        tally.accepted += 1
        watch(socket, key: UInt64(streamClient.id), events: client.interest, operation: EPOLL_CTL_ADD)
    }

    /// One read (level-triggered epoll reports again what is left), every
    /// whole request in it served, and their replies written at once.
    private func receive(_ client: ServerConnection) {
        var result = 0
        client.lastActivity = .now
        client.input.writeWithUnsafeMutableBytes(minimumWritableBytes: ServerConnection.readSize) { buffer in
            result = Glibc.read(client.socket, buffer.baseAddress, buffer.count)
            return max(result, 0)
        }
        if result < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard result > 0 else { return drop(client, because: result == 0 ? nil : ServerSocketError(operation: "read", code: errno)) }
        guard !client.closing else { return client.input.clear() }
        let received = client.session.receive(&client.input, into: &client.output, tally: &tally)
        tally.requests += received.requests
        if settings.options.trackClients {
            roster.withLock { roster in
                guard let index = roster.index(forKey: client.remote.id) else { return }
                roster.values[index].received += result
                roster.values[index].requests += received.requests
            }
        }
        if let end = received.end {
            // The requests before a bad header are answered; then it closes.
            if case .malformed = end {
                settings.logger.notice("closing \(settings.service.name) connection from \(client.remote.peer) once answered: \(end)")
            }
            client.closing = true
            client.input.clear()
        }
        client.input.discardReadBytes()
        // The frame left over began in this read when this read finished one:
        // a client streaming pipelined requests whose reads end mid-frame
        // must not look, after the frame timeout, like one never finishing.
        if client.input.readableBytes == 0 {
            client.partialSince = nil
        } else if received.requests > 0 || client.partialSince == nil {
            client.partialSince = client.lastActivity
        }
        send(client)
    }

    private func deliverPosted() {
        var count: UInt64 = 0
        _ = Glibc.read(wake, &count, 8)
        let (replies, closing) = posted.withLock { state in
            defer { state.replies.removeAll(keepingCapacity: true); state.closing.removeAll() }
            return (state.replies, state.closing)
        }
        for id in closing {
            if let client = clients[id] { drop(client, because: ClosedByServer(what: "closed through the web API")) }
        }
        var touched: [Int: ServerConnection] = [:]
        for (id, sequence, reply) in replies {
            guard let client = clients[id] else { continue }
            client.session.complete(sequence, reply: reply, into: &client.output, tally: &tally)
            touched[id] = client
        }
        for client in touched.values { send(client) }
    }

    /// Writes what the client has waiting, as far as its socket takes it;
    /// epoll reports when it can take the rest.
    private func send(_ client: ServerConnection) {
        while client.output.readableBytes > 0 {
            let written = client.output.withUnsafeReadableBytes {
                Glibc.send(client.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                client.output.moveReaderIndex(forwardBy: written)
            } else if errno == EAGAIN {
                break
            } else if errno != EINTR {
                return drop(client, because: ServerSocketError(operation: "write", code: errno))
            }
        }
        client.output.discardReadBytes()
        if client.closing && client.isIdle { return drop(client, because: nil) }
        adjustInterest(client)
    }

    /// Asks for writability while replies wait, and stops reading a client
    /// that does not read its replies.
    private func adjustInterest(_ client: ServerConnection) {
        var wanted: UInt32 = 0
        if client.output.readableBytes < settings.options.outputLimit && !client.closing { wanted |= EPOLLIN.rawValue }
        if client.output.readableBytes > 0 { wanted |= EPOLLOUT.rawValue }
        guard wanted != client.interest else { return }
        if wanted & EPOLLIN.rawValue != 0 && client.partialSince != nil { client.partialSince = .now }
        if wanted & EPOLLIN.rawValue == 0 && !client.closing { settings.connections.pausedReading.add(1, ordering: .relaxed) }
        client.interest = wanted
        watch(client.socket, key: UInt64(client.remote.id), events: wanted, operation: EPOLL_CTL_MOD)
    }

    /// Closes one client; `error` says why, nil when it simply went.
    private func drop(_ client: ServerConnection, because error: (any Error)?) {
        if let error {
            // A client that resets its connection has only gone; a bad header is worth a notice.
            let level: Logger.Level = (error as? ServerSocketError)?.code == ECONNRESET ? .debug : .notice
            settings.logger.log(level: level, "closing \(settings.service.name) connection from \(client.remote.peer): \(error)")
        }
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, client.socket, nil)
        // Unread requests would make the close a reset, and a reset can
        // discard replies the client has not yet read: read them away first.
        if client.closing {
            var scratch = [UInt8](repeating: 0, count: 4096)
            while Glibc.read(client.socket, &scratch, scratch.count) > 0 {}
        }
        Glibc.close(client.socket)
        client.remote.close()
        client.session.closed()
        settings.connections.close()
        tally.closed += 1
        clients[client.remote.id] = nil
        if settings.options.trackClients { _ = roster.withLock { $0.removeValue(forKey: client.remote.id) } }
    }
}

/// Why the server closed a client of its own accord (a timeout, the limit).
struct ClosedByServer: Error, CustomStringConvertible {
    let what: String
    var description: String { what }
}

extension SocketAddress {
    /// The address `accept` filled in, when it is IPv4 or IPv6.
    init?(_ storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            self = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee) } }
        case AF_INET6:
            self = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee) } }
        default:
            return nil
        }
    }
}
