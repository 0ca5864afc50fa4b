import NIOCore
import NIOPosix

/// An MQTT client that stays connected: it connects to the first broker of
/// its list that answers, and when the connection fails connects again after
/// a pause that doubles up to a bound. Subscriptions are made again on every
/// connection. A QoS 1 message is kept until the broker acknowledges it: one
/// not yet acknowledged when the connection fails is sent again (marked DUP)
/// on the next, before anything newer, so that messages arrive in order and
/// none is lost (at least once: one the broker had may come twice).
public actor MQTTClient {
    public struct Broker: Sendable, Hashable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int = 1883) {
            self.host = host
            self.port = port
        }
    }

    public struct Options: Sendable {
        public var brokers: [Broker]
        public var connect: Connect
        public var tls: MQTTConnection.TLS?
        public var connectTimeout: Duration = .seconds(5)
        public var reconnectDelay: Duration = .milliseconds(500)
        public var reconnectMaximum: Duration = .seconds(30)
        /// Called before every connection attempt with the CONNECT to send:
        /// what it returns is sent (a Sparkplug node's will carries a new
        /// `bdSeq` on every attempt).
        public var prepare: (@Sendable (Connect) -> Connect)?

        public init(brokers: [Broker], connect: Connect) {
            self.brokers = brokers
            self.connect = connect
        }
    }

    /// A connection made (with the CONNECT it was made with) or lost (and why).
    public enum Event: Sendable, Hashable {
        /// A connection is up: its CONNECT, and its number (the first is 1).
        case connected(Connect, number: Int)
        case disconnected(String)
    }

    /// What the client is doing, for status pages.
    public struct Status: Sendable, Hashable {
        public var connected: Bool
        /// The broker connected to, or last tried.
        public var broker: Broker?
        /// Why the last connection ended or failed.
        public var lastError: String?
        /// QoS 1 messages waiting for their PUBACK.
        public var unacknowledged: Int
        public var connections: Int
    }

    private struct Pending {
        var publish: Publish
        let done: EventLoopPromise<Void>
        var sent = false
    }

    private let options: Options
    private let group: any EventLoopGroup
    private var connection: MQTTConnection?
    private var subscriptions: [Subscription] = []
    private var outbox: [Int: Pending] = [:]
    private var nextNumber = 0
    private var status = Status(connected: false, unacknowledged: 0, connections: 0)
    private var runner: Task<Void, Never>?
    private let (incoming, incomingContinuation) = AsyncStream.makeStream(of: Publish.self)
    private let (happenings, happeningsContinuation) = AsyncStream.makeStream(of: Event.self)

    public init(_ options: Options, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.options = options
        self.group = group
    }

    /// Messages from every connection, in order; ends when the client stops.
    public nonisolated var messages: AsyncStream<Publish> { incoming }

    /// Each connection as it is made and lost, in order; ends when the client
    /// stops. `connected` comes after the subscriptions are made and before
    /// the outbox is sent again: what is published on it goes first.
    public nonisolated var events: AsyncStream<Event> { happenings }

    public var currentStatus: Status {
        var now = status
        now.unacknowledged = outbox.count
        return now
    }

    /// Starts connecting (and reconnecting) in the background.
    public func start() {
        guard runner == nil else { return }
        runner = Task { await self.run() }
    }

    /// Disconnects cleanly and stops; messages not yet acknowledged fail.
    public func stop() async {
        runner?.cancel()
        runner = nil
        await connection?.disconnect()
        connection = nil
        for pending in outbox.values { pending.done.fail(MQTTError("the client stopped")) }
        outbox = [:]
        incomingContinuation.finish()
        happeningsContinuation.finish()
    }

    /// Subscribes now if connected, and on every connection from now on.
    public func subscribe(_ subscription: Subscription) async throws {
        subscriptions.append(subscription)
        if let connection { _ = try await connection.subscribe([subscription]) }
    }

    /// QoS 0: sent if connected, else dropped (false). QoS 1: returns once
    /// the broker has it, across as many reconnections as that takes.
    @discardableResult
    public func publish(_ publish: Publish) async throws -> Bool {
        guard publish.qos != .atMostOnce else {
            guard let connection else { return false }
            try await connection.publish(publish)
            return true
        }
        try await enqueue(publish).get()
        return true
    }

    /// Whether the broker has everything published so far on this
    /// connection (see `MQTTConnection.confirm`); false when not connected,
    /// or when the connection fails first.
    /// With `number`, only on that connection (see `Happening.connected`):
    /// a confirmation from a later one says nothing of what an earlier one lost.
    public func confirm(on number: Int? = nil) async -> Bool {
        guard let connection, number.map({ $0 == status.connections }) ?? true else { return false }
        do {
            try await connection.confirm().get()
            return true
        } catch {
            return false
        }
    }

    /// Puts a QoS 1 message in the outbox at once (messages keep the order
    /// of these calls) and sends it if connected; the future completes when
    /// the broker has it.
    public func enqueue(_ publish: Publish) -> EventLoopFuture<Void> {
        var message = publish
        message.qos = .atLeastOnce
        nextNumber += 1
        let done = group.any().makePromise(of: Void.self)
        outbox[nextNumber] = Pending(publish: message, done: done)
        if let connection { send(nextNumber, on: connection) }
        return done.futureResult
    }

    /// Writes outbox entry `number` (in the order of these calls) and settles it when its PUBACK comes.
    private func send(_ number: Int, on connection: MQTTConnection) {
        guard var pending = outbox[number] else { return }
        pending.publish.dup = pending.sent
        pending.sent = true
        outbox[number] = pending
        connection.published(pending.publish).whenComplete { result in
            Task { await self.settle(number, result) }
        }
    }

    private func settle(_ number: Int, _ result: Result<Void, any Error>) {
        switch result {
        case .success:
            outbox.removeValue(forKey: number)?.done.succeed()
        case .failure(let error as MQTTError) where error.reason.hasPrefix("the broker refused"):
            outbox.removeValue(forKey: number)?.done.fail(error)
        case .failure:
            break // the connection failed: it goes again on the next one
        }
    }

    private func run() async {
        var pause = options.reconnectDelay
        while !Task.isCancelled {
            if let (connection, connect) = await connectToAny() {
                pause = options.reconnectDelay
                await serve(connection, connect)
            }
            guard !Task.isCancelled else { return }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, max(options.reconnectDelay, options.reconnectMaximum))
        }
    }

    private func connectToAny() async -> (MQTTConnection, Connect)? {
        for broker in options.brokers {
            status.broker = broker
            let connect = options.prepare?(options.connect) ?? options.connect
            var attempt = MQTTConnection.Options(host: broker.host, port: broker.port, connect: connect)
            attempt.connectTimeout = options.connectTimeout
            attempt.tls = options.tls
            do {
                let connection = try await MQTTConnection.connect(attempt, group: group)
                do {
                    if !subscriptions.isEmpty { _ = try await connection.subscribe(subscriptions) }
                } catch {
                    await connection.drop()
                    throw error
                }
                return (connection, connect)
            } catch {
                status.lastError = "\(broker.host):\(broker.port): \(error)"
            }
        }
        return nil
    }

    /// One connection's life: what waits goes first, in order; messages are
    /// passed on until it closes.
    private func serve(_ connection: MQTTConnection, _ connect: Connect) async {
        self.connection = connection
        status.connected = true
        status.connections += 1
        happeningsContinuation.yield(.connected(connect, number: status.connections))
        for number in outbox.keys.sorted() { send(number, on: connection) }
        for await message in connection.messages { incomingContinuation.yield(message) }
        self.connection = nil
        status.connected = false
        let reason = await connection.closeReason.map { "\($0)" } ?? "the connection closed"
        status.lastError = reason
        happeningsContinuation.yield(.disconnected(reason))
    }
}
