import Foundation
import Gateway
import Modbus
import MQTT
import TestSupport
import Testing

/// `mode = "json"`: retained births and status, data as `{"member": value,
/// "timestamp": …}`, writes through `…/set`, read by a plain MQTT subscriber.
@Suite(.serialized) struct JSONModeTests {
    private func object(_ message: Publish) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any])
    }

    private func next(_ messages: inout AsyncStream<Publish>.Iterator, topic: String) async throws -> Publish {
        while let message = await messages.next() {
            if message.topic == topic { return message }
        }
        throw Peers.Missing(description: "the subscription ended before \(topic)")
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
            var messages = connection.messages.makeAsyncIterator()
            let status = try await next(&messages, topic: "\(root)/status")
            #expect(status.retain)
            #expect(try object(status)["online"] as? Bool == true)
            let birth = try object(try await next(&messages, topic: "\(root)/Pump/birth"))
            let members = try #require(birth["members"] as? [String: [String: Any]])
            #expect(members["Count"]?["type"] as? String == "UINT")
            #expect(members["Count"]?["value"] as? Int == 7)
            #expect(members["Level"]?["value"] as? Double == 25)
            #expect(members["Offset"]?["value"] as? Int == -2)
            #expect(members["Run"]?["value"] as? Bool == true)

            rig.pumpStore.define(.holdingRegisters, at: 0, values: [11])
            let data = try object(try await next(&messages, topic: "\(root)/Pump"))
            #expect(data["Count"] as? Int == 11)
            #expect(data["timestamp"] as? Int != nil)
            #expect(data["Level"] == nil, "only what changed")

            try await connection.publish(Publish(topic: "\(root)/Pump/set", payload: Array(#"{"Count": 99}"#.utf8)))
            #expect(try object(try await next(&messages, topic: "\(root)/Pump"))["Count"] as? Int == 99)
            #expect(try rig.pumpStore.read(.holdingRegisters, address: 0, count: 1) == [99])
            try await connection.publish(Publish(topic: "\(root)/Pump/set", payload: Array("not json".utf8)))
            try await waitUntil { rig.status?.refusedCommands == 1 }

            rig.stopTank()
            var tank = try object(try await next(&messages, topic: "\(root)/Tank/birth"))
            // The retained birth first, when it was not passed over above; then the death.
            if tank["online"] as? Bool == true { tank = try object(try await next(&messages, topic: "\(root)/Tank/birth")) }
            #expect(tank["online"] as? Bool == false)
        }
    }
}
