import Foundation
import MQTT
import NIOCore

/// mqtt-bench publish PORT COUNT QOS: COUNT messages of 32 bytes to the
/// broker on 127.0.0.1:PORT, as fast as the client goes, at QoS 0 or 1;
/// done when the broker has the last (QoS 1: every PUBACK in; QoS 0: one
/// QoS 1 message after them, acknowledged, which the broker handles in
/// order). Prints {"messages": N, "seconds": S, "rate": R}.
let arguments = CommandLine.arguments
guard arguments.count == 5, arguments[1] == "publish", let port = Int(arguments[2]), let count = Int(arguments[3]),
      let qos = UInt8(arguments[4]).flatMap(QoS.init(rawValue:)), qos != .exactlyOnce else {
    FileHandle.standardError.write(Data("usage: mqtt-bench publish PORT COUNT QOS(0|1)\n".utf8))
    exit(2)
}
let connection = try await MQTTConnection.connect(MQTTConnection.Options(host: "127.0.0.1", port: port,
                                                                         connect: Connect(clientID: "mqtt-bench-\(getpid())")))
let payload = [UInt8](repeating: 0x55, count: 32)
let start = ContinuousClock.now
var pending: [EventLoopFuture<Void>] = []
pending.reserveCapacity(count)
for _ in 0..<count {
    pending.append(connection.published(Publish(topic: "fieldgw/bench", payload: payload, qos: qos)))
}
pending.append(connection.published(Publish(topic: "fieldgw/bench/end", payload: payload, qos: .atLeastOnce)))
// Waited for on the connection's loop: a callback attached from outside it would cost a hop each.
let all = pending
try await connection.eventLoop.flatSubmit { EventLoopFuture.andAllSucceed(all, on: connection.eventLoop) }.get()
let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
print("{\"messages\": \(count), \"seconds\": \(String(format: "%.4f", seconds)), \"rate\": \(String(format: "%.0f", Double(count) / seconds))}")
await connection.disconnect()
