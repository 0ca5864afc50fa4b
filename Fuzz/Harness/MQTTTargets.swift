import MQTT
import NIOCore

/// What an MQTT client reads from a broker: a stream of packets in 3.1.1
/// (the first byte even) or 5.0 (odd), the rest of the bytes the stream.
enum MQTTTargets {
    /// Every packet read goes back through the codec to itself.
    static func client(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let version: MQTTVersion = first % 2 == 0 ? .v311 : .v5
        var stream = ByteBuffer(bytes: bytes.dropFirst())
        while let packet = try? MQTTCodec.decode(from: &stream, version: version, maximumSize: 1 << 16) {
            var encoded = ByteBuffer()
            MQTTCodec.encode(packet, version: version, into: &encoded)
            guard let again = try? MQTTCodec.decode(from: &encoded, version: version), again == packet, encoded.readableBytes == 0 else {
                fatalError("\(packet) did not come back through the codec as itself")
            }
        }
    }
}
