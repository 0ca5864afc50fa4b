import Foundation
import Gateway
import MQTT
@testable import Sparkplug
import SwiftProtobuf
import TestSupport
import Testing

/// The spool on disk, the Sparkplug payloads byte for byte, topics, and `[mqtt]`'s errors.
@Suite(.ownThreads) struct SpoolTests {
    private func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-spool-\(UUID().uuidString)").path
    }

    private func sample(_ value: Double) -> Sample {
        Sample(device: "Pump", at: UInt64(value), values: [MemberValue(name: "Count", type: "UINT", value: value)])
    }

    @Test func whatIsKeptSurvivesARestartInOrder() throws {
        let path = directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var spool = try Spool(directory: path, maximumBytes: 1 << 20)
        for value in 1...5 { spool.append(sample(Double(value))) }
        spool.remove([spool.entries[0].id, spool.entries[2].id])
        spool.shut()
        let again = try Spool(directory: path, maximumBytes: 1 << 20)
        #expect(again.entries.map(\.sample.at) == [2, 4, 5])
        #expect(again.dropped == 0)
    }

    /// Samples sent but never confirmed come back among those kept meanwhile, in time order, on disk too.
    @Test func samplesPutBackTakeTheirPlaceInTime() throws {
        let path = directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var spool = try Spool(directory: path, maximumBytes: 1 << 20)
        for value in [1.0, 4, 5] { spool.append(sample(value)) }
        spool.putBack([sample(2), sample(3), sample(6)])
        #expect(spool.entries.map(\.sample.at) == [1, 2, 3, 4, 5, 6])
        #expect(Set(spool.entries.map(\.id)).count == 6, "every entry its own id")
        spool.shut()
        #expect(try Spool(directory: path, maximumBytes: 1 << 20).entries.map(\.sample.at) == [1, 2, 3, 4, 5, 6])
    }

    @Test func aFullSpoolDropsTheOldestAndCountsThem() throws {
        let path = directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var spool = try Spool(directory: path, maximumBytes: 2000)
        for value in 1...200 { spool.append(sample(Double(value))) }
        #expect(spool.bytes <= 2000)
        #expect(spool.dropped + spool.count == 200)
        #expect(spool.entries.last?.sample.at == 200)
        let ats = spool.entries.map(\.sample.at)
        #expect(ats == ats.sorted() && ats.first == UInt64(spool.dropped + 1), "the oldest went")
    }

    @Test func aLineCutShortIsDroppedAndCounted() throws {
        let path = directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var spool = try Spool(directory: path, maximumBytes: 1 << 20)
        spool.append(sample(1))
        spool.shut()
        let handle = try #require(FileHandle(forWritingAtPath: "\(path)/spool.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"device":"Pump","at":2,"val"#.utf8))
        try handle.close()
        let again = try Spool(directory: path, maximumBytes: 1 << 20)
        #expect(again.count == 1)
        #expect(again.dropped == 1)
    }

    @Test func aSpoolDirectoryThatCannotBeMadeIsNamed() {
        #expect(throws: SpoolError.self) { try Spool(directory: "/proc/fieldgw-spool", maximumBytes: 1000) }
    }
}

@Suite(.ownThreads) struct SparkplugPayloadTests {
    let dialect = SparkplugDialect(group: "plant", edgeNode: "cab7")

    @Test func topicsAreTheSpecsAndParseBack() {
        let topic = SparkplugTopic(group: "plant", kind: .deviceData, edgeNode: "cab7", device: "Pump")
        #expect(topic.description == "spBv1.0/plant/DDATA/cab7/Pump")
        #expect(SparkplugTopic(topic.description) == topic)
        #expect(SparkplugTopic("spBv1.0/plant/NCMD/cab7")?.kind == .nodeCommand)
        for bad in ["spBv1.0/plant/DDATA/cab7", "spBv1.0/plant/NCMD/cab7/x", "spAv1.0/plant/NCMD/cab7", "spBv1.0//NCMD/cab7", "spBv1.0/p/XYZ/e"] {
            #expect(SparkplugTopic(bad) == nil, "\(bad)")
        }
    }

    /// A DDATA as protobuf bytes, field by field (Tahu's numbers: timestamp 1,
    /// metrics 2, seq 3; in a metric name 1, timestamp 3, datatype 4,
    /// is_historical 5, int_value 10).
    @Test func aDataMessageIsLaidOutAsTahuSays() {
        let sample = Sample(device: "Pump", at: 1000, values: [MemberValue(name: "A", type: "INT", value: -1)])
        let message = dialect.deviceData(sample, seq: 7, historical: true)
        #expect(message.topic == "spBv1.0/plant/DDATA/cab7/Pump")
        #expect(message.qos == .atMostOnce && !message.retain)
        // int_value 65535: -1 as an Int16's two's complement.
        let metric: [UInt8] = [0x0A, 0x01, 0x41, 0x18, 0xE8, 0x07, 0x20, 0x02, 0x28, 0x01, 0x50, 0xFF, 0xFF, 0x03]
        #expect(message.payload == [0x08, 0xE8, 0x07, 0x12, UInt8(metric.count)] + metric + [0x18, 0x07])
    }

    @Test func theWillCarriesBdSeqAtQoS1() throws {
        let will = dialect.will(bdSeq: 42)
        #expect(will.topic == "spBv1.0/plant/NDEATH/cab7")
        #expect(will.qos == .atLeastOnce && !will.retain)
        #expect(dialect.bdSeq(of: will) == 42)
    }

    @Test func commandsAreReadWithTheirDatatypes() throws {
        var payload = SparkplugPayload()
        payload.timestamp = 1
        var metric = SparkplugPayload.Metric()
        metric.name = "Offset"
        metric.datatype = UInt32(SparkplugDataType.int16.rawValue)
        // Sign-extended to 32 bits (Tahu's Java) and of its own width (pysparkplug): both read as -300.
        for raw in [UInt32(bitPattern: -300), UInt32(UInt16(bitPattern: -300))] {
            metric.intValue = raw
            payload.metrics = [metric]
            let bytes: [UInt8] = try payload.serializedBytes()
            let command = try dialect.command(Publish(topic: "spBv1.0/plant/DCMD/cab7/Pump", payload: bytes))
            #expect(command == .write(device: "Pump", values: ["Offset": -300]))
        }
        let bytes: [UInt8] = try payload.serializedBytes()
        #expect(try dialect.command(Publish(topic: "spBv1.0/plant/DCMD/other/Pump", payload: bytes)) == nil)
        #expect(throws: CommandError.self) { try dialect.command(Publish(topic: "spBv1.0/plant/DCMD/cab7/Pump", payload: [0xFF, 0xFF])) }
        #expect(throws: CommandError.self) { try dialect.command(Publish(topic: "spBv1.0/plant/NCMD/cab7", payload: bytes)) }
    }
}

@Suite(.ownThreads) struct MQTTConfigurationTests {
    private func mqtt(_ body: String) throws -> Configuration.MQTT? {
        try Configuration(toml: "[[listener]]\nbind = \"127.0.0.1:0\"\n[mqtt]\n" + body, file: "mqtt.toml").mqtt
    }

    @Test func theDefaultsAndEveryKey() throws {
        let plain = try #require(try mqtt(#"brokers = ["mqtt://broker", "mqtt://10.0.0.2:1884"]"#))
        #expect(plain.brokers == [.init(host: "broker", port: 1883, tls: false), .init(host: "10.0.0.2", port: 1884, tls: false)])
        #expect(plain.mode == .sparkplug && plain.groupID == "fieldgw" && !plain.version5)
        #expect(plain.spoolDirectory == "/var/lib/fieldgw/mqtt" && plain.spoolMaximumBytes == 16 << 20)
        let full = try #require(try mqtt("""
            brokers = ["mqtts://broker.example:8884"]
            mode = "json"
            version = "5.0"
            client_id = "gw1"
            group_id = "plant"
            edge_node_id = "cab7"
            username = "u"
            password = "p"
            ca_file = "/etc/ca.pem"
            cert_file = "/etc/c.pem"
            key_file = "/etc/c.key"
            keepalive_s = 15
            reconnect_max_ms = 5000
            spool_directory = "/tmp/s"
            spool_max_mb = 2
            node_metrics_period_s = 5
            """))
        #expect(full.brokers == [.init(host: "broker.example", port: 8884, tls: true)])
        #expect(full.mode == .json && full.version5 && full.clientID == "gw1" && full.edgeNodeID == "cab7")
        #expect(full.keepAlive == 15 && full.reconnectMaximum == .seconds(5) && full.spoolMaximumBytes == 2 << 20)
        #expect(try mqtt("enabled = false\nbrokers = [\"nonsense\"]") == nil)
    }

    @Test(arguments: [
        (#"brokers = ["http://x"]"#, "brokers", "is not mqtt://HOST[:PORT]"),
        (#"brokers = []"#, "brokers", "at least one broker"),
        (#"brokers = ["mqtts://x"]"#, "ca_file", "need the CA"),
        ("brokers = [\"mqtt://x\", \"mqtts://y\"]\nca_file = \"/c\"", "brokers", "not both"),
        ("brokers = [\"mqtt://x\"]\nedge_node_id = \"a/b\"", "edge_node_id", "one topic level"),
        ("brokers = [\"mqtt://x\"]\nmode = \"xml\"", "mode", "not sparkplug or json"),
        ("brokers = [\"mqtt://x\"]\npassword = \"p\"", "password", "needs a username"),
        ("brokers = [\"mqtt://x\"]\nqos = 2", "qos", "unknown key"),
    ] as [(String, String, String)])
    func aBadKeyIsNamed(body: String, key: String, reason: String) {
        let error = #expect(throws: ConfigurationError.self) { try mqtt(body) }
        #expect(error?.description.contains("mqtt.\(key)") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains(reason) == true, "\(error?.description ?? "")")
    }

    @Test func aDeadbandIsForRealMembers() {
        let error = #expect(throws: ConfigurationError.self) {
            try Configuration(toml: """
                [[line]]
                name = "a"
                adapter = "/dev/null"
                [[device]]
                tag = "T"
                line = "a"
                slave = 1
                [[device.member]]
                name = "C"
                register = "40001"
                deadband = 1
                """, file: "d.toml")
        }
        #expect(error?.description.contains("deadband") == true)
    }
}
