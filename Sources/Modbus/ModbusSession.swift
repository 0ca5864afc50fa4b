import NIOCore
import StreamServer

/// Modbus/TCP on a stream server: one client's MBAP frames served in order
/// with their transaction ids, a reply that waits for a serial line holding
/// back those after it.
struct ModbusService: StreamService {
    let serving: any ModbusServing
    let faults: FaultSwitch
    var name: String { "Modbus/TCP" }

    func session(for client: StreamClient) -> any StreamSession {
        ModbusSession(service: self, client: client)
    }
}

final class ModbusSession: StreamSession {
    /// What a waiting reply needs from its request to be sent.
    struct Header {
        let transaction: UInt16
        let unit: UInt8
    }

    private let service: ModbusService
    private let client: StreamClient
    private let connection = ModbusConnection()
    private var order = ReplyOrder<Header>()

    init(service: ModbusService, client: StreamClient) {
        self.service = service
        self.client = client
    }

    var owes: Bool { !order.isEmpty }

    func receive(_ input: inout ByteBuffer, into output: inout ByteBuffer, tally: inout LoopTally) -> Received {
        var requests = 0
        do {
            while let frame = try MBAPDecoder.frame(from: &input) {
                requests += 1
                serve(frame, into: &output, tally: &tally)
            }
        } catch {
            return Received(requests: requests, end: .malformed("\(error)"))
        }
        return Received(requests: requests)
    }

    func complete(_ sequence: Int, reply: [UInt8]?, into output: inout ByteBuffer, tally: inout LoopTally) {
        for (header, pdu) in order.complete(sequence, reply: reply) {
            encode(MBAPFrame(transaction: header.transaction, unit: header.unit, pdu: pdu), into: &output, tally: &tally)
        }
    }

    func closed() { connection.close() }

    private func serve(_ frame: MBAPFrame, into output: inout ByteBuffer, tally: inout LoopTally) {
        let header = Header(transaction: frame.transaction, unit: frame.unit)
        switch service.serving.serve(unit: frame.unit, pdu: frame.pdu, from: connection, on: client.eventLoop) {
        case .now(let reply) where order.isEmpty:
            if let reply { encode(MBAPFrame(transaction: frame.transaction, unit: frame.unit, pdu: reply), into: &output, tally: &tally) }
        case .now(let reply):
            complete(order.enqueue(header), reply: reply, into: &output, tally: &tally)
        case .later(let future):
            let sequence = order.enqueue(header)
            let client = client
            future.whenComplete { result in client.post(sequence, reply: (try? result.get()) ?? nil) }
        case .handedOver(let start):
            let sequence = order.enqueue(header)
            let client = client
            start { reply in client.post(sequence, reply: reply) }
        }
    }

    private func encode(_ frame: MBAPFrame, into output: inout ByteBuffer, tally: inout LoopTally) {
        if frame.pdu.count == 2, frame.pdu[0] & 0x80 != 0 { tally.codes[frame.pdu[1], default: 0] += 1 }
        guard service.faults.isActive else { return MBAPEncoder.write(frame, to: &output) }
        var one = ByteBuffer()
        MBAPEncoder.write(frame, to: &one)
        output.writeBytes(service.faults.current.damageTCP(Array(one.readableBytesView)))
    }
}
