import Foundation
@testable import MQTT
import NIOCore
import NIOPosix
import Serial
import Synchronization
import TestSupport
import Testing

/// What a connection receives, gathered in the background.
final class Inbox: Sendable {
    private let received = Mutex<[Publish]>([])

    init(_ connection: MQTTConnection) {
        Task { [weak self] in for await message in connection.messages { self?.received.withLock { $0.append(message) } } }
    }

    /// The first `count` messages, once they are in (or what came within 10 s).
    func first(_ count: Int) async throws -> [Publish] {
        let deadline = ContinuousClock.now + .seconds(10)
        while received.withLock({ $0.count }) < count && .now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        return received.withLock { Array($0.prefix(count)) }
    }

    /// Every message received once `distinct` different payloads are in (or what came within 30 s):
    /// at least once, a message may come twice.
    func all(distinct: Int) async throws -> [Publish] {
        let deadline = ContinuousClock.now + .seconds(30)
        while received.withLock({ Set($0.map(\.payload)).count }) < distinct && .now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        return received.withLock { $0 }
    }
}

@Suite(.serialized, .ownThreads) struct MQTTBrokerTests {
    private func options(_ broker: Mosquitto, _ version: MQTTVersion, _ id: String, will: Will? = nil) -> MQTTConnection.Options {
        MQTTConnection.Options(host: "127.0.0.1", port: broker.port, connect: Connect(version: version, clientID: id, keepAlive: 5, will: will))
    }

    /// QoS 0 and 1 through a real Mosquitto, in order, and the will of a
    /// client that went without DISCONNECT; in 3.1.1 and in 5.0.
    @Test(arguments: [MQTTVersion.v311, .v5]) func publishSubscribeAndTheWillThroughMosquitto(version: MQTTVersion) async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        let subscriber = try await MQTTConnection.connect(options(broker, version, "sub-\(version)"))
        let inbox = Inbox(subscriber)
        #expect(try await subscriber.subscribe([Subscription("fieldgw/test/#", qos: .atLeastOnce)]) == [1])
        let publisher = try await MQTTConnection.connect(options(broker, version, "pub-\(version)"))
        try await publisher.publish(Publish(topic: "fieldgw/test/zero", payload: Array("at most once".utf8)))
        for index in 0..<50 {
            try await publisher.publish(Publish(topic: "fieldgw/test/one", payload: [UInt8(index)], qos: .atLeastOnce))
        }
        let will = Will(topic: "fieldgw/test/will", payload: [0xDE, 0xAD], qos: .atLeastOnce)
        let dying = try await MQTTConnection.connect(options(broker, version, "dying-\(version)", will: will))
        await dying.drop()
        let received = try await inbox.first(52)
        #expect(received.first?.payload == Array("at most once".utf8) && received.first?.qos == .atMostOnce)
        #expect(received.dropFirst().prefix(50).map(\.payload) == (0..<50).map { [UInt8($0)] }, "every QoS 1 message, in order")
        #expect(received.last?.topic == "fieldgw/test/will" && received.last?.payload == [0xDE, 0xAD], "\(received.last.map { "\($0)" } ?? "none")")
        await publisher.disconnect()
        await subscriber.disconnect()
        #expect(await subscriber.closeReason == nil)
    }

    @Test func aRefusedConnectionSaysWhy() async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        // Mosquitto refuses an empty client id with clean session off (3.1.1: identifier rejected).
        let refused = MQTTConnection.Options(host: "127.0.0.1", port: broker.port, connect: Connect(clientID: "", cleanStart: false))
        await #expect(throws: MQTTError("the broker refused the connection: return code 2 (identifier rejected)")) {
            _ = try await MQTTConnection.connect(refused)
        }
    }
}

/// TLS to Mosquitto: the broker's certificate checked against the CA, a
/// client certificate when the broker requires one.
@Suite(.serialized, .ownThreads) struct MQTTTLSTests {
    private func roundTrip(_ broker: Mosquitto, _ tls: MQTTConnection.TLS) async throws -> [UInt8]? {
        var options = MQTTConnection.Options(host: "127.0.0.1", port: broker.port, connect: Connect(clientID: "tls-\(UUID().uuidString.prefix(8))"))
        options.tls = tls
        let connection = try await MQTTConnection.connect(options)
        let inbox = Inbox(connection)
        _ = try await connection.subscribe([Subscription("fieldgw/tls", qos: .atLeastOnce)])
        try await connection.publish(Publish(topic: "fieldgw/tls", payload: [42], qos: .atLeastOnce))
        let received = try await inbox.first(1).first?.payload
        await connection.disconnect()
        return received
    }

    @Test func aTLSBrokerIsReachedAndItsCertificateChecked() async throws {
        let certificates = try await offPool { try TestCertificates() }
        defer { certificates.remove() }
        let broker = try Mosquitto(tls: certificates)
        defer { broker.stop() }
        #expect(try await roundTrip(broker, .init(caFile: certificates.ca, serverName: "localhost")) == [42])
        // The client's own certificate, signed by no CA the client trusts, as a CA: refused.
        await #expect(throws: (any Error).self) { _ = try await roundTrip(broker, .init(caFile: certificates.client, serverName: "localhost")) }
        // A name the certificate does not carry: refused.
        await #expect(throws: (any Error).self) { _ = try await roundTrip(broker, .init(caFile: certificates.ca, serverName: "broker.example")) }
        let missing = #expect(throws: MQTTError.self) { _ = try MQTTConnection.TLS(caFile: "/nonexistent/ca.pem").context() }
        #expect(missing?.reason.hasPrefix("TLS files (/nonexistent/ca.pem): ") == true, "\(missing?.reason ?? "")")
    }

    @Test func aBrokerThatRequiresAClientCertificateGetsOne() async throws {
        let certificates = try await offPool { try TestCertificates() }
        defer { certificates.remove() }
        let broker = try Mosquitto(tls: certificates, clientCertificates: true)
        defer { broker.stop() }
        let withCertificate = MQTTConnection.TLS(caFile: certificates.ca, certificateFile: certificates.client, keyFile: certificates.clientKey,
                                                 serverName: "localhost")
        #expect(try await roundTrip(broker, withCertificate) == [42])
        await #expect(throws: (any Error).self) { _ = try await roundTrip(broker, .init(caFile: certificates.ca, serverName: "localhost")) }
    }
}

/// More QoS 1 messages at once than may be in flight: the 5.0 broker's
/// Receive Maximum (Mosquitto says 20; passing it is a protocol error that
/// ends the connection) or the 65,535 packet ids of 3.1.1. The rest wait,
/// in order, for PUBACKs to make room; every one arrives.
@Suite(.ownThreads) struct MQTTInFlightTests {
    @Test(arguments: [(MQTTVersion.v5, 500), (.v311, 70_000)])
    func aBatchBeyondTheInFlightLimitWaitsItsTurn(version: MQTTVersion, count: Int) async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        // A loop of its own: 70,000 PUBACKs come 16,000 to a read, which
        // a debug build takes most of a second over, and the test process's
        // shared loops time other tests' servers.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let subscriber = try await MQTTConnection.connect(MQTTConnection.Options(host: "127.0.0.1", port: broker.port,
                                                                                connect: Connect(version: version, clientID: "counter")),
                                                          group: group)
        let received = Mutex((count: 0, inOrder: true))
        let counting = Task {
            for await message in subscriber.messages {
                let index = message.payload.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                received.withLock { $0.inOrder = $0.inOrder && index == UInt32($0.count); $0.count += 1 }
                if received.withLock({ $0.count }) == count { return }
            }
        }
        _ = try await subscriber.subscribe([Subscription("fieldgw/batch", qos: .atLeastOnce)])
        let publisher = try await MQTTConnection.connect(MQTTConnection.Options(host: "127.0.0.1", port: broker.port,
                                                                               connect: Connect(version: version, clientID: "batch")), group: group)
        let acknowledged = (0..<count).map { index in
            publisher.published(Publish(topic: "fieldgw/batch", payload: withUnsafeBytes(of: UInt32(index)) { Array($0) }, qos: .atLeastOnce))
        }
        // A thousand at a time: one wait on 70,000 futures holds the loop while it attaches to them all.
        for start in stride(from: 0, to: count, by: 1000) {
            try await EventLoopFuture.andAllSucceed(Array(acknowledged[start..<min(start + 1000, count)]), on: publisher.eventLoop).get()
        }
        #expect(await publisher.closeReason == nil)
        // Every PUBACK is in. A subscriber gets them all only up to Mosquitto's
        // queue for it (max_queued_messages, 1000): past it the broker drops.
        let expected = min(count, 1000)
        let deadline = ContinuousClock.now + .seconds(30)
        while received.withLock({ $0.count }) < expected && .now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(received.withLock { $0.count } >= expected && received.withLock { $0.inOrder || count > 1000 }, "\(received.withLock { $0 })")
        counting.cancel()
        await publisher.disconnect()
        await subscriber.disconnect()
        try await group.shutdownGracefully()
    }

    /// The event loop is shared (with servers' delayed replies, other
    /// connections): a large batch goes out a part at a time, and work
    /// queued to the loop after it runs between the parts.
    @Test func aLargeBatchTakesTurnsWithTheLoopsOtherWork() async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        // A loop of its own, held while the batch is queued: the loop then
        // finds the whole batch, and the probe queued after it, at once.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let publisher = try await MQTTConnection.connect(MQTTConnection.Options(host: "127.0.0.1", port: broker.port,
                                                                               connect: Connect(version: .v311, clientID: "burst")), group: group)
        let held = DispatchSemaphore(value: 0)
        publisher.eventLoop.execute { held.wait() }
        let count = 10 * MQTTConnection.drainLimit
        let written = (0..<count).map { index in
            publisher.published(Publish(topic: "fieldgw/burst", payload: withUnsafeBytes(of: UInt32(index)) { Array($0) }, qos: .atMostOnce))
        }
        let probe = publisher.eventLoop.submit { publisher.queuedCount }
        held.signal()
        #expect(try await probe.get() == count - MQTTConnection.drainLimit, "work queued after the batch ran after its first part")
        for start in stride(from: 0, to: count, by: 1000) {
            try await EventLoopFuture.andAllSucceed(Array(written[start..<min(start + 1000, count)]), on: publisher.eventLoop).get()
        }
        try await publisher.confirm().get()
        #expect(publisher.queuedCount == 0)
        await publisher.disconnect()
        try await group.shutdownGracefully()
    }
}

/// The client that stays connected, across an outage.
@Suite(.ownThreads) struct MQTTClientTests {
    /// 60 QoS 1 messages published every 20 ms while the publisher's way to
    /// the broker is cut for a second: each publish returns once the broker
    /// has it, and a subscriber gets every one, in order.
    @Test func qos1MessagesSurviveAnOutage() async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        let relay = try Relay(to: broker.port)
        defer { relay.stop() }
        let subscriber = try await MQTTConnection.connect(MQTTConnection.Options(host: "127.0.0.1", port: broker.port,
                                                                                connect: Connect(clientID: "keeper", keepAlive: 5)))
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([Subscription("fieldgw/outage", qos: .atLeastOnce)])
        var options = MQTTClient.Options(brokers: [.init(host: "127.0.0.1", port: relay.port)], connect: Connect(clientID: "source", keepAlive: 5))
        options.reconnectDelay = .milliseconds(100)
        options.reconnectMaximum = .milliseconds(400)
        let publisher = MQTTClient(options)
        await publisher.start()
        while await !publisher.currentStatus.connected { try await Task.sleep(for: .milliseconds(10)) }

        let publishing = Task {
            var acknowledged: [EventLoopFuture<Void>] = []
            for index in 0..<60 {
                acknowledged.append(await publisher.enqueue(Publish(topic: "fieldgw/outage", payload: [UInt8(index)], qos: .atLeastOnce)))
                try await Task.sleep(for: .milliseconds(20))
            }
            for future in acknowledged { try await future.get() }
        }
        try await Task.sleep(for: .milliseconds(400))
        relay.cut(for: .seconds(1))
        try await publishing.value
        // Redelivered after the cut, some come twice: the first 60 received need not be all 60.
        let got = try await inbox.all(distinct: 60).map { $0.payload.first ?? 0 }
        var firsts: [UInt8] = []
        for value in got where !firsts.contains(value) { firsts.append(value) }
        #expect(firsts == (0..<60).map { UInt8($0) }, "every message, in order (at least once): \(got)")
        let status = await publisher.currentStatus
        #expect(status.connections == 2 && status.unacknowledged == 0, "it came back by itself: \(status)")
        await publisher.stop()
        await subscriber.disconnect()
    }
}

/// A broker of the test's own that breaks the protocol: the client says what
/// was wrong and closes, and nothing crashes.
@Suite(.ownThreads) struct MQTTGarbageTests {
    /// Accepts one client, reads its CONNECT (and, for `delay`, whatever else
    /// comes, into `heard`), and writes `replies` one after the other.
    final class Heard: Sendable {
        let bytes = Mutex<[UInt8]>([])
    }

    private func fakeBroker(_ replies: [[UInt8]], delay: Duration = .zero, heard: Heard? = nil) throws -> (port: Int, done: DispatchSemaphore) {
        let listener = try SocketListener(host: "127.0.0.1", port: 0)
        let done = DispatchSemaphore(value: 0)
        let served = Mutex(false)
        Thread.detachNewThread {
            // Each connection on a thread of its own, and only one that opens
            // with an MQTT CONNECT is served: in the full suite, gateways of
            // other tests retry ports that were their servers', and the kernel
            // can give such a port to this listener. A stray that says nothing
            // must not hold up the test's own client (it once filled the
            // backlog while it was being read, and the client was reset).
            let giveUp = ContinuousClock.now + .seconds(60)
            while !served.withLock({ $0 }), ContinuousClock.now < giveUp {
                guard let client = listener.accept(within: .milliseconds(200), settings: SerialSettings()) else { continue }
                nonisolated(unsafe) let candidate = client
                Thread.detachNewThread {
                    let first = (try? candidate.read(limit: 512, deadline: .now + .seconds(30))) ?? []
                    guard first.first == 0x10 && first.count > 8 && first[4..<8].elementsEqual("MQTT".utf8),
                          served.withLock({ claimed in defer { claimed = true }; return !claimed }) else { return }
                    Self.serve(candidate, first: first, replies: replies, delay: delay, heard: heard)
                    done.signal()
                }
            }
            if !served.withLock({ $0 }) { done.signal() }
        }
        return (listener.port, done)
    }

    private static func serve(_ client: SerialPort, first bytes: [UInt8], replies: [[UInt8]], delay: Duration, heard: Heard?) {
        heard?.bytes.withLock { $0 += bytes }
        let until = ContinuousClock.now + delay
        while ContinuousClock.now < until, let more = try? client.read(limit: 512, deadline: until), !more.isEmpty {
            heard?.bytes.withLock { $0 += more }
        }
        for reply in replies {
            try? client.write(reply)
            usleep(50_000)
        }
        _ = try? client.read(limit: 512, deadline: .now + .seconds(2))
    }

    @Test func aMalformedCONNACKFailsTheConnect() async throws {
        let (port, done) = try fakeBroker([[0x20, 0x02, 0x04, 0x00]])
        let options = MQTTConnection.Options(host: "127.0.0.1", port: port, connect: Connect(clientID: "c"))
        await #expect(throws: MQTTError("CONNACK flags 4: reserved bits set")) { _ = try await MQTTConnection.connect(options) }
        _ = try await offPool { done.wait() }
    }

    /// A broker that never answers CONNECT fails the connect after the
    /// connect timeout; one that answers late hears nothing before it
    /// answers (no PINGREQ ahead of the session).
    @Test func aCONNACKLateOrNeverIsHandled() async throws {
        let (silentPort, silentDone) = try fakeBroker([])
        var options = MQTTConnection.Options(host: "127.0.0.1", port: silentPort, connect: Connect(clientID: "c", keepAlive: 1))
        options.connectTimeout = .seconds(1)
        await #expect(throws: MQTTError("no CONNACK within 1 s")) { _ = try await MQTTConnection.connect(options) }
        _ = try await offPool { silentDone.wait() }

        let heard = Heard()
        let (latePort, lateDone) = try fakeBroker([[0x20, 0x02, 0, 0]], delay: .milliseconds(1500), heard: heard)
        options.port = latePort
        options.connectTimeout = .seconds(5)
        let connection = try await MQTTConnection.connect(options)
        var connect = ByteBuffer()
        MQTTCodec.encode(.connect(options.connect), version: .v311, into: &connect)
        #expect(heard.bytes.withLock { $0 } == connect.readBytes(length: connect.readableBytes), "only the CONNECT before the CONNACK")
        await connection.disconnect()
        _ = try await offPool { lateDone.wait() }
    }

    @Test func aMalformedPacketLaterClosesTheConnectionWithItsReason() async throws {
        let (port, done) = try fakeBroker([[0x20, 0x02, 0, 0], [0x30, 0x05, 0, 1, 0x61] + Array("ok".utf8), [0x36, 0x05, 0, 1, 0x61, 0, 1]])
        let connection = try await MQTTConnection.connect(MQTTConnection.Options(host: "127.0.0.1", port: port, connect: Connect(clientID: "c")))
        let inbox = Inbox(connection)
        try await connection.closed.get()
        #expect(await connection.closeReason == MQTTError("a PUBLISH with QoS 3"))
        #expect(try await inbox.first(1).map(\.payload) == [Array("ok".utf8)], "what came before it was delivered")
        _ = try await offPool { done.wait() }
    }
}
