import Foundation
import Gateway
import Modbus
import Sparkplug
import TestSupport
import Testing

/// The gateway as an edge node, seen by a Sparkplug host application of
/// another library (pysparkplug) through a real Mosquitto.
@Suite(.serialized, .ownThreads) struct EdgeNodeTests {
    @Test func birthsThenDataByExceptionInSequence() async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        let host = try SparkplugHost(port: broker.port)
        defer { host.stop() }
        try await SparkplugRig.with(brokerPort: broker.port) { rig in
            let nodeBirth = try await host.next("NBIRTH")
            #expect(nodeBirth.topic == "spBv1.0/plant/NBIRTH/\(rig.edge)")
            #expect(nodeBirth.seq == 0)
            #expect(nodeBirth.metrics.first { $0.name == "bdSeq" }?.datatype == "UINT64")
            #expect(nodeBirth.value("Node Control/Rebirth") == 0)
            #expect(nodeBirth.value("Lines/pumps/Up") == 1)
            var births: [String: SparkplugHost.Message] = [:]
            var seq = 0
            while births.count < 2 {
                let birth = try await host.next()
                #expect(birth.kind == "DBIRTH")
                seq += 1
                #expect(birth.seq == seq, "seq continues across the node's messages")
                births[birth.device ?? ""] = birth
            }
            let pump = try #require(births["Pump"])
            let types = Dictionary(uniqueKeysWithValues: pump.metrics.map { ($0.name ?? "", $0.datatype) })
            #expect(types == ["Count": "UINT16", "Level": "FLOAT", "Mode": "INT16", "Offset": "INT16", "Total": "INT32", "Run": "BOOLEAN"])
            #expect(pump.value("Count") == 7)
            #expect(pump.value("Level") == 25)
            #expect(pump.value("Offset") == -2, "a signed member keeps its sign through Sparkplug's uint32")
            #expect(pump.value("Run") == 1)
            #expect(births["Tank"]?.value("Height") == 500)
            #expect(pump.metrics.allSatisfy { $0.timestamp != nil && !$0.historical })

            // A change beyond the deadband is published, alone; one within it is not.
            rig.pumpStore.define(.holdingRegisters, at: 1, values: [252])
            rig.pumpStore.define(.holdingRegisters, at: 0, values: [8])
            // Later messages: seq goes on rising (an NDATA may come between under load).
            let data = try await host.next("DDATA", device: "Pump")
            #expect((data.seq ?? 0) > seq)
            #expect(data.metrics.map(\.name) == ["Count"])
            #expect(data.value("Count") == 8)
            rig.pumpStore.define(.holdingRegisters, at: 1, values: [260])
            let level = try await host.next("DDATA", device: "Pump")
            #expect(level.metrics.map(\.name) == ["Level"])
            #expect(level.value("Level") == 26)
            #expect((level.seq ?? 0) > (data.seq ?? 0))
            #expect(rig.status?.connected == true)
            // The node counts a message once its publish returns, which can
            // be after the broker has handed it on: the fifth may still be counting.
            try await waitUntil { (rig.status?.published ?? 0) >= 5 }
        }
    }

    @Test func commandsWriteThroughTheLineAndRebirthRepublishes() async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        let host = try SparkplugHost(port: broker.port)
        defer { host.stop() }
        try await SparkplugRig.with(brokerPort: broker.port) { rig in
            _ = try await host.next("DBIRTH", device: "Pump")
            let target = #""group": "plant", "edge": "\#(rig.edge)", "device": "Pump""#
            host.send(#"{"write": {\#(target), "metrics": [{"name": "Count", "datatype": "UINT16", "value": 42}]}}"#)
            let written = try await host.next("DDATA", device: "Pump")
            #expect(written.value("Count") == 42)
            #expect(try rig.pumpStore.read(.holdingRegisters, address: 0, count: 1) == [42])

            host.send(#"{"write": {\#(target), "metrics": [{"name": "Offset", "datatype": "INT16", "value": -300}]}}"#)
            #expect(try await host.next("DDATA", device: "Pump").value("Offset") == -300)
            #expect(try rig.pumpStore.read(.holdingRegisters, address: 3, count: 1) == [UInt16(bitPattern: -300)])

            // Read-only: refused, and nothing reaches the slave.
            host.send(#"{"write": {\#(target), "metrics": [{"name": "Mode", "datatype": "INT16", "value": 9}]}}"#)
            try await waitUntil { rig.status?.refusedCommands == 1 }
            #expect(try rig.pumpStore.read(.holdingRegisters, address: 2, count: 1) == [3])

            host.send(#"{"rebirth": {"group": "plant", "edge": "\#(rig.edge)"}}"#)
            let again = try await host.next("NBIRTH")
            #expect(again.seq == 0)
            let pump = try await host.next("DBIRTH", device: "Pump")
            #expect(pump.value("Count") == 42)
            #expect(rig.status?.commands == 2)
        }
    }

    @Test func aDeviceThatStopsAnsweringDiesAndIsBornAgain() async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        let host = try SparkplugHost(port: broker.port)
        defer { host.stop() }
        try await SparkplugRig.with(brokerPort: broker.port) { rig in
            _ = try await host.next("DBIRTH", device: "Tank")
            rig.stopTank()
            let death = try await host.next("DDEATH", device: "Tank")
            #expect(death.timestamp != nil)
            rig.tankStore.define(.holdingRegisters, at: 0, values: [600])
            rig.startTank()
            let birth = try await host.next("DBIRTH", device: "Tank")
            #expect(birth.value("Height") == 600)
        }
    }
}

/// Polls `condition` every 20 ms for up to `seconds`.
func waitUntil(_ seconds: Double = 10, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while !condition() {
        guard ContinuousClock.now < deadline else { throw Peers.Missing(description: "not within \(seconds) s") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
