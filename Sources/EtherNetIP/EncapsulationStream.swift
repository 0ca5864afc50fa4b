import NIOCore
import StreamServer

/// EtherNet/IP on a stream server: each client's encapsulation messages
/// answered in order by its `EncapsulationSession`; a reply that waits (a
/// write through a serial line, or the web API's delay) holds back those after it.
struct EncapsulationService: StreamService {
    let router: MessageRouter
    let controls: ServerControls
    var name: String { "EtherNet/IP" }

    func session(for client: StreamClient) -> any StreamSession {
        EncapsulationStream(session: EncapsulationSession(router: router, local: client.localAddress, peer: client.address,
                                                                 eventLoop: client.eventLoop),
                            controls: controls, client: client)
    }
}

final class EncapsulationStream: StreamSession {
    private let session: EncapsulationSession
    private let controls: ServerControls
    private let client: StreamClient
    /// A reply needs nothing from its request to go out: it is a whole message.
    private var order = ReplyOrder<Void>()

    init(session: EncapsulationSession, controls: ServerControls, client: StreamClient) {
        self.session = session
        self.controls = controls
        self.client = client
    }

    var owes: Bool { !order.isEmpty }

    /// CIP errors are counted by the router's metrics, not in `tally`.
    func receive(_ input: inout ByteBuffer, into output: inout ByteBuffer, tally: inout LoopTally) -> Received {
        var requests = 0
        while let message = Encapsulation.message(from: &input) {
            requests += 1
            switch session.handle(message) {
            case .reply(let reply):
                if let seconds = controls.nextDelay() {
                    wait(.nanoseconds(Int64(seconds * 1e9)), then: reply)
                } else if order.isEmpty {
                    reply.write(to: &output)
                } else {
                    complete(order.enqueue(()), reply: reply.bytes, into: &output, tally: &tally)
                }
            case .later(let future):
                let sequence = order.enqueue(()), client = client
                // A session never fails its futures; a lost one still keeps the order.
                future.whenComplete { result in client.post(sequence, reply: try? result.get().bytes) }
            case .none:
                break
            case .close:
                return Received(requests: requests, end: .asked)
            }
        }
        return Received(requests: requests)
    }

    /// The web API's delay: the reply goes out after `delay`, in its turn.
    private func wait(_ delay: TimeAmount, then reply: Encapsulation) {
        let sequence = order.enqueue(()), client = client
        client.eventLoop.scheduleTask(in: delay) { client.post(sequence, reply: reply.bytes) }
    }

    func complete(_ sequence: Int, reply: [UInt8]?, into output: inout ByteBuffer, tally: inout LoopTally) {
        for (_, bytes) in order.complete(sequence, reply: reply) { output.writeBytes(bytes) }
    }

    func closed() { session.close() }
}
