import Foundation
import TestSupport
import Testing

/// Twenty gateway processes, each `fieldgw demo` on a simulated line of its
/// own, publish to one Mosquitto: the host sees twenty edge nodes and their
/// three devices each, and all of them born again after the broker restarts.
@Suite(.ownThreads) struct FleetTests {
    static let size = 20
    static let devices: Set<String> = ["Unit1", "Unit2", "Unit3"]

    @Test func twentyGatewaysOnOneBrokerAreBornAgainAfterItRestarts() async throws {
        // Persistent: the host's session (and what arrives while it reconnects) outlives the restart.
        let broker = try Mosquitto(persistent: true)
        defer { broker.stop() }
        let fleet = "fleet\(UUID().uuidString.prefix(6))"
        let host = try SparkplugHost(port: broker.port, filter: "spBv1.0/demo/#", session: "host-\(fleet)")
        defer { host.stop() }
        let edges = (1...Self.size).map { "\(fleet)-\($0)" }
        var gateways: [PeerProcess] = []
        defer { gateways.forEach { $0.stop(signal: SIGTERM) } }
        for edge in edges {
            gateways.append(try PeerProcess(Peers.fieldgw(), ["demo", "--port", "0", "--enip-port", "0", "--web-port", "0",
                                                             "--mqtt", "mqtt://127.0.0.1:\(broker.port)", "--edge-node", edge]))
        }
        let first = try await births(of: edges, from: host)
        #expect(Set(first.keys) == Set(edges))
        for (edge, birth) in first {
            #expect(birth.members == Self.members, "\(edge): every member of every device in its DBIRTH")
        }

        try broker.restart()
        let second = try await births(of: edges, from: host, after: first.mapValues(\.bdSeq))
        #expect(Set(second.keys) == Set(edges), "every node born again")
        for (edge, birth) in second {
            // Each CONNECT attempt carries a will with the next bdSeq: the new session's is another one.
            #expect(birth.bdSeq != first[edge]?.bdSeq, "\(edge): a new bdSeq for the new session")
            #expect(birth.members == Self.members, "\(edge): its devices born again")
        }
        for gateway in gateways { #expect(gateway.isRunning, "no gateway stopped: \(gateway.standardError)") }
    }

    /// What one edge node's births said: its bdSeq, and each device's member names.
    struct Births {
        var bdSeq: Double
        var members: [String: Set<String>] = [:]
    }

    static let members = Dictionary(uniqueKeysWithValues: devices.map { ($0, Set(["Seconds"] + (2...10).map { "R\($0)" })) })

    /// Reads the host's messages until every edge has an NBIRTH (with a bdSeq
    /// other than `after`'s) and, after it, a DBIRTH of each device.
    private func births(of edges: [String], from host: SparkplugHost, after earlier: [String: Double] = [:]) async throws -> [String: Births] {
        var found: [String: Births] = [:]
        let complete = { (found: [String: Births]) in
            found.count == edges.count && found.values.allSatisfy { Set($0.members.keys) == Self.devices }
        }
        _ = try await host.collect(timeout: 120) { message in
            switch message.kind {
            case "NBIRTH":
                if let bdSeq = message.value("bdSeq"), earlier[message.edge] != bdSeq { found[message.edge] = Births(bdSeq: bdSeq) }
            case "DBIRTH":
                if let device = message.device {
                    found[message.edge]?.members[device] = Set(message.metrics.compactMap(\.name))
                }
            default:
                break
            }
            return complete(found)
        }
        return found
    }
}
