import EtherNetIP
import Foundation
import Modbus
import NIOPosix
import Serial
import Synchronization
import TestSupport
import Testing

/// A "broker" that accepts the node, then breaks the protocol on every
/// connection: the node says why and connects again, and the gateway serves
/// Modbus/TCP and EtherNet/IP as if nothing were wrong.
@Suite(.ownThreads) struct GarbageBrokerTests {
    /// Answers each connection that opens with CONNECT with a good CONNACK,
    /// then `garbage`, then closes it; counts those it served.
    final class GarbageBroker: @unchecked Sendable {
        let port: Int
        let served = Atomic<Int>(0)
        private let listener: SocketListener
        private let running = Atomic<Bool>(true)

        init(garbage: [UInt8]) throws {
            listener = try SocketListener(host: "127.0.0.1", port: 0)
            port = listener.port
            Thread.detachNewThread { [self] in
                while running.load(ordering: .relaxed) {
                    guard let client = listener.accept(within: .milliseconds(100), settings: SerialSettings()) else { continue }
                    nonisolated(unsafe) let connection = client
                    Thread.detachNewThread { [self] in serve(connection, garbage: garbage) }
                }
            }
        }

        private func serve(_ client: SerialPort, garbage: [UInt8]) {
            // Anything else (a stray from another test) is closed unanswered.
            guard let first = try? client.read(limit: 512, deadline: .now + .seconds(10)), first.first == 0x10 else { return }
            try? client.write([0x20, 0x02, 0, 0])
            try? client.write(garbage)
            served.add(1, ordering: .relaxed)
            _ = try? client.read(limit: 512, deadline: .now + .seconds(2))
        }

        func stop() { running.store(false, ordering: .relaxed) }
    }

    /// `body`'s result, tried up to five times: on a machine loaded by the
    /// whole suite a slave thread can miss its timeout, which has nothing
    /// to do with the broker; a gateway that stopped serving fails them all.
    static func eventually<T>(_ body: () async throws -> T) async throws -> T {
        for _ in 1..<5 {
            if let result = try? await body() { return result }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await body()
    }

    /// A Modbus/TCP listener with the rig's slaves routed to it.
    static let listener = """
        [[listener]]
        bind = "127.0.0.1:0"
        [[route]]
        units = "1-2"
        line = "pumps"
        """

    @Test(arguments: [
        ("a PUBLISH with QoS 3", [0x36, 0x05, 0, 1, 0x61, 0, 1] as [UInt8]),
        ("longer than four bytes", [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
        ("only a client sends", [0xC0, 0x00]),
    ])
    func theNodeReconnectsAndTheGatewayKeepsServing(reason: String, garbage: [UInt8]) async throws {
        let broker = try GarbageBroker(garbage: garbage)
        defer { broker.stop() }
        try await SparkplugRig.with(brokerPort: broker.port, extra: Self.listener) { rig in
            let modbus = try await ModbusTCPClient.connect(host: "127.0.0.1", port: try #require(rig.service.servers.first?.port),
                                                           group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(2))
            let enip = try await ENIPClient.connect(host: "127.0.0.1", port: try #require(rig.service.enipServer?.port),
                                                    group: MultiThreadedEventLoopGroup.singleton)
            // Reads on both faces while the node is thrown off again and again.
            var reads = 0
            let until = Date().addingTimeInterval(30)
            while broker.served.load(ordering: .relaxed) < 4 && Date() < until {
                try rig.pumpStore.write(.holdingRegisters, address: 0, values: [UInt16(reads)])
                #expect(try await Self.eventually { try await modbus.call(.readHoldingRegisters(address: 0, count: 1), unit: 1) }
                            == .registers([UInt16(reads)]))
                let tag = try await Self.eventually {
                    var tags: [TagResult] = []
                    for try await result in enip.perform([try TagOperation(parsing: "Tank.Height")]) { tags.append(result) }
                    guard tags.first?.status == .success else { throw Peers.Missing(description: "\(tags)") }
                    return tags.first?.values
                }
                #expect(tag == ["500"])
                reads += 1
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(broker.served.load(ordering: .relaxed) >= 4, "the node connected again after each")
            let status = try #require(rig.status)
            #expect(status.lastError?.contains(reason) == true, "\(String(describing: status.lastError))")
            await modbus.close()
            await enip.close()
        }
    }
}
