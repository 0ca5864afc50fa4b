import Foundation
import Gateway
import Modbus
import Serial
import TestSupport
import Testing

/// The NDEATH the broker publishes for a gateway that dies without a word
/// (SIGKILL) carries the `bdSeq` of its NBIRTH; a gateway that stops
/// cleanly publishes its own; the next run's births are told apart.
@Suite(.serialized, .ownThreads) struct NodeDeathTests {
    private func gateway(broker: Int, spool: String, adapter: String, edge: String) throws -> PeerProcess {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-\(edge).toml").path
        try """
            [web]
            enabled = false
            [mqtt]
            brokers = ["mqtt://127.0.0.1:\(broker)"]
            group_id = "plant"
            edge_node_id = "\(edge)"
            spool_directory = "\(spool)"
            [enip]
            bind = "127.0.0.1:0"
            [[line]]
            name = "pumps"
            adapter = "\(adapter)"
            baud = 38400
            [[device]]
            tag = "Pump"
            line = "pumps"
            slave = 1
            period_s = 0.2
            [[device.member]]
            name = "Count"
            register = "40001"
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let process = try PeerProcess(Peers.fieldgw(), ["gateway", "-c", file])
        _ = try process.waitForLine(startingWith: "gateway: running")
        return process
    }

    @Test func aKilledGatewaysWillCarriesItsBirthsSequenceNumber() async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        let host = try SparkplugHost(port: broker.port)
        defer { host.stop() }
        let serial = SerialSettings(baud: 38400)
        let bus = try VirtualBus(ends: 2, settings: serial)
        let store = DataStore()
        store.define(.holdingRegisters, at: 0, values: [5])
        let slave = SlaveThread(path: bus.paths[1], settings: serial, units: UnitMap(devices: [1: ModbusDevice(store: store)]))
        defer { slave.stop() }
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-spool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: spool) }

        let edge = "killed-\(UUID().uuidString.prefix(6))"
        let first = try gateway(broker: broker.port, spool: spool, adapter: bus.paths[0], edge: edge)
        let birth = try await host.next("NBIRTH")
        #expect(birth.edge == edge)
        let bdSeq = try #require(birth.value("bdSeq"))
        #expect(try await host.next("DBIRTH").value("Count") == 5)
        first.stop(signal: SIGKILL)
        let death = try await host.next("NDEATH")
        #expect(death.edge == edge)
        #expect(death.value("bdSeq") == bdSeq, "the will's bdSeq is the NBIRTH's")

        // The next run (same spool directory) takes the next number; its clean stop publishes its own NDEATH.
        let second = try gateway(broker: broker.port, spool: spool, adapter: bus.paths[0], edge: edge)
        let rebirth = try await host.next("NBIRTH")
        let next = try #require(rebirth.value("bdSeq"))
        #expect(next == (bdSeq + 1).truncatingRemainder(dividingBy: 256))
        second.stop(signal: SIGTERM)
        #expect(second.exitStatus == 0)
        #expect(try await host.next("NDEATH").value("bdSeq") == next)
    }
}
