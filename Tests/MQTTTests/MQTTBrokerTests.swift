import Foundation
import MQTT
import Serial
import Synchronization
import TestSupport
import Testing

/// A Mosquitto broker of the test's own, on a free loopback port.
final class Mosquitto: Sendable {
    let port: Int
    private let process: PeerProcess
    private let directory: String

    init() throws {
        port = try Peers.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-mosquitto-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = "\(directory)/mosquitto.conf"
        try "listener \(port) 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n".write(toFile: config, atomically: true, encoding: .utf8)
        let program = (try? Peers.program("mosquitto")) ?? "/usr/sbin/mosquitto"
        process = try PeerProcess(program, ["-c", config])
        let deadline = Date().addingTimeInterval(10)
        while (try? RawConnection(port: port)) == nil {
            guard Date() < deadline, process.isRunning else { throw Peers.Missing(description: "mosquitto did not listen: \(process.standardError)") }
            usleep(20_000)
        }
    }

    func stop() {
        process.stop(signal: SIGTERM)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

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
}

@Suite struct MQTTBrokerTests {
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

/// A broker of the test's own that breaks the protocol: the client says what
/// was wrong and closes, and nothing crashes.
@Suite struct MQTTGarbageTests {
    /// Accepts one client, reads its CONNECT, and writes `replies` one after the other.
    private func fakeBroker(_ replies: [[UInt8]]) throws -> (port: Int, done: DispatchSemaphore) {
        let listener = try SocketListener(host: "127.0.0.1", port: 0)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { done.signal() }
            guard let client = listener.accept(within: .seconds(10), settings: SerialSettings()) else { return }
            _ = try? client.read(limit: 512, deadline: .now + .seconds(5))
            for reply in replies {
                try? client.write(reply)
                usleep(50_000)
            }
            _ = try? client.read(limit: 512, deadline: .now + .seconds(2))
        }
        return (listener.port, done)
    }

    @Test func aMalformedCONNACKFailsTheConnect() async throws {
        let (port, done) = try fakeBroker([[0x20, 0x02, 0x04, 0x00]])
        let options = MQTTConnection.Options(host: "127.0.0.1", port: port, connect: Connect(clientID: "c"))
        await #expect(throws: MQTTError("CONNACK flags 4: reserved bits set")) { _ = try await MQTTConnection.connect(options) }
        _ = try await offPool { done.wait() }
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
