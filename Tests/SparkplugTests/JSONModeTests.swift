import Foundation
import Gateway
import Modbus
import MQTT
import Synchronization
import TestSupport
import Testing

/// `mode = "json"`: retained births and status, data as `{"member": value,
/// "timestamp": …}`, writes through `…/set`, read by a plain MQTT subscriber.
@Suite(.serialized, .ownThreads) struct JSONModeTests {
    private func object(_ message: Publish) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any])
    }

    /// A subscriber's messages, taken in order; those on other topics are passed over.
    final class Reader: Sendable {
        private let state = Mutex<(messages: [Publish], taken: Int)>(([], 0))

        init(_ connection: MQTTConnection) {
            Task { [weak self] in for await message in connection.messages { self?.state.withLock { $0.messages.append(message) } } }
        }

        /// The next message on `topic`; an error when none comes in time (never a test that hangs).
        func next(topic: String, timeout: Duration = .seconds(30)) async throws -> Publish {
            let deadline = ContinuousClock.now + timeout
            while true {
                let found: Publish? = state.withLock { state in
                    while state.taken < state.messages.count {
                        state.taken += 1
                        if state.messages[state.taken - 1].topic == topic { return state.messages[state.taken - 1] }
                    }
                    return nil
                }
                if let found { return found }
                guard ContinuousClock.now < deadline else {
                    let seen = state.withLock { $0.messages.map { "\($0.topic) \(String(decoding: $0.payload, as: UTF8.self))" } }
                    throw Peers.Missing(description: "nothing on \(topic) within \(timeout); all that came: \(seen)")
                }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    @Test func birthsDataAndWritesAsJSON() async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        try await SparkplugRig.with(brokerPort: broker.port, mode: "json") { rig in
            let root = "fieldgw/\(rig.edge)"
            try await waitUntil { rig.status?.connected == true && (rig.status?.published ?? 0) >= 3 }
            // A subscriber that comes later still finds the births: they are retained.
            let connection = try await MQTTConnection.connect(.init(host: "127.0.0.1", port: broker.port, connect: Connect(clientID: "json-reader-\(rig.edge)")))
            defer { Task { await connection.disconnect() } }
            _ = try await connection.subscribe([Subscription("\(root)/#")])
            let messages = Reader(connection)
            let status = try await messages.next(topic: "\(root)/status")
            #expect(status.retain)
            #expect(try object(status)["online"] as? Bool == true)
            let birth = try object(try await messages.next(topic: "\(root)/Pump/birth"))
            let members = try #require(birth["members"] as? [String: [String: Any]])
            #expect(members["Count"]?["type"] as? String == "UINT")
            #expect(members["Count"]?["value"] as? Int == 7)
            #expect(members["Level"]?["value"] as? Double == 25)
            #expect(members["Offset"]?["value"] as? Int == -2)
            #expect(members["Run"]?["value"] as? Bool == true)

            rig.pumpStore.define(.holdingRegisters, at: 0, values: [11])
            let data = try object(try await messages.next(topic: "\(root)/Pump"))
            #expect(data["Count"] as? Int == 11)
            #expect(data["timestamp"] as? Int != nil)
            #expect(data["Level"] == nil, "only what changed")

            try await connection.publish(Publish(topic: "\(root)/Pump/set", payload: Array(#"{"Count": 99}"#.utf8)))
            #expect(try object(try await messages.next(topic: "\(root)/Pump"))["Count"] as? Int == 99)
            #expect(try rig.pumpStore.read(.holdingRegisters, address: 0, count: 1) == [99])
            try await connection.publish(Publish(topic: "\(root)/Pump/set", payload: Array("not json".utf8)))
            try await waitUntil { rig.status?.refusedCommands == 1 }

            rig.stopTank()
            var tank = try object(try await messages.next(topic: "\(root)/Tank/birth"))
            // The retained birth first, when it was not passed over above; then the death.
            if tank["online"] as? Bool == true { tank = try object(try await messages.next(topic: "\(root)/Tank/birth")) }
            #expect(tank["online"] as? Bool == false)
        }
    }
}
