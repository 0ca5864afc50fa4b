import Foundation
import Gateway
import TestSupport
import Testing

/// The node to a Mosquitto that takes TLS only and asks for a client
/// certificate: with the CA and the client's certificate it connects and
/// publishes its births; with another CA it is refused, and says why.
@Suite(.serialized, .ownThreads) struct NodeTLSTests {
    @Test func theNodeConnectsOverTLSWithAClientCertificate() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let broker = try Mosquitto(tls: certificates, clientCertificates: true)
        defer { broker.stop() }
        let files = "ca_file = \"\(certificates.ca)\"\ncert_file = \"\(certificates.client)\"\nkey_file = \"\(certificates.clientKey)\""
        try await SparkplugRig.with(brokerPort: broker.port, extra: files, broker: "mqtts://localhost:\(broker.port)") { rig in
            try await waitUntil { rig.status?.connected == true && (rig.status?.published ?? 0) >= 3 }
            #expect(rig.status?.broker == "localhost:\(broker.port)")
        }
        let stranger = try TestCertificates()
        defer { stranger.remove() }
        let wrong = "ca_file = \"\(stranger.ca)\"\ncert_file = \"\(certificates.client)\"\nkey_file = \"\(certificates.clientKey)\""
        try await SparkplugRig.with(brokerPort: broker.port, extra: wrong, broker: "mqtts://localhost:\(broker.port)") { rig in
            try await waitUntil { rig.status?.lastError != nil }
            #expect(rig.status?.connected == false)
            #expect(rig.status?.published == 0)
        }
    }
}
