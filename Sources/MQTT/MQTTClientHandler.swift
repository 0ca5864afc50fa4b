import NIOCore

/// The client's side of one MQTT connection, on its event loop: packets out
/// (with packet ids given here, so that they are unique among those in
/// flight), packets in (acknowledgements matched to what waits for them,
/// messages handed on and acknowledged), keepalive, and a clear reason when
/// the broker breaks the protocol.
final class MQTTClientHandler: ChannelDuplexHandler {
    struct Outgoing {
        let packet: MQTTPacket
        /// Completed with the broker's answer (SUBACK, UNSUBACK).
        let reply: EventLoopPromise<MQTTPacket>?
    }

    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Outgoing
    typealias OutboundOut = ByteBuffer

    private let options: MQTTConnection.Options
    private var version: MQTTVersion { options.connect.version }
    private let messages: AsyncStream<Publish>.Continuation
    private var input = ByteBuffer()
    private var connackPromise: EventLoopPromise<MQTTPacket>?
    private var waiting: [UInt16: EventLoopPromise<MQTTPacket>] = [:]
    private var lastID: UInt16 = 0
    private var lastSent = NIODeadline.now()
    /// PINGREQs not yet answered, oldest first (the broker answers in
    /// order), each with what waits for its PINGRESP: nothing for keepalive's.
    private var pings: [(sent: NIODeadline, done: EventLoopPromise<Void>?)] = []
    /// QoS 1 messages sent by `send`, by packet id, until their PUBACK.
    private var publishes: [UInt16: (topic: String, done: EventLoopPromise<Void>)] = [:]
    private var context: ChannelHandlerContext?
    /// QoS 1 messages at most in flight: the broker's Receive Maximum (5.0),
    /// and always short of the 65,535 packet ids, some kept for SUBSCRIBEs.
    private var inFlightLimit = 65_000
    /// QoS 1 messages beyond that, in order, until PUBACKs make room.
    private var held = CircularBuffer<(publish: Publish, done: EventLoopPromise<Void>)>()
    private var keepalive: RepeatedTask?
    private var connackDeadline: Scheduled<Void>?
    private(set) var closeReason: MQTTError?

    /// `connack` is completed with the broker's CONNACK, or failed with why there is none.
    init(options: MQTTConnection.Options, messages: AsyncStream<Publish>.Continuation, connack: EventLoopPromise<MQTTPacket>) {
        self.options = options
        self.messages = messages
        self.connackPromise = connack
    }

    /// CONNECT goes out here, on the event loop, the moment the connection
    /// is up: sent from the task that connected, it waited for a thread of
    /// Swift's cooperative pool, and with that pool busy long enough the
    /// broker gave up on a connection that said nothing.
    func channelActive(context: ChannelHandlerContext) {
        var bytes = context.channel.allocator.buffer(capacity: 64)
        MQTTCodec.encode(.connect(options.connect), version: version, into: &bytes)
        lastSent = .now()
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        let seconds = options.connectTimeout.components.seconds
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        connackDeadline = context.eventLoop.scheduleTask(in: .milliseconds(max(1, seconds) * 1000)) {
            bound.value.handler.fail(MQTTError("no CONNACK within \(max(1, seconds)) s"), context: bound.value.context)
        }
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// A connection that never came up still answers the one waiting for its CONNACK.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        connackDeadline?.cancel()
        connackPromise?.fail(closeReason ?? MQTTError("the connection to the broker closed"))
        connackPromise = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepalive?.cancel()
        connackDeadline?.cancel()
        let error = closeReason ?? MQTTError("the connection to the broker closed")
        connackPromise?.fail(error)
        connackPromise = nil
        for promise in waiting.values { promise.fail(error) }
        waiting = [:]
        for ping in pings { ping.done?.fail(error) }
        pings = []
        for publish in publishes.values { publish.done.fail(error) }
        publishes = [:]
        for message in held { message.done.fail(error) }
        held.removeAll()
        messages.finish()
        context.fireChannelInactive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let outgoing = unwrapOutboundIn(data)
        let packet = numbered(outgoing, context: context)
        var bytes = context.channel.allocator.buffer(capacity: 64)
        MQTTCodec.encode(packet, version: version, into: &bytes)
        lastSent = .now()
        context.write(wrapOutboundOut(bytes), promise: promise)
    }

    /// The packet with a packet id of its own when it needs one, its reply's
    /// promise kept under it. (PUBLISHes go by `send`, which numbers its own.)
    private func numbered(_ outgoing: Outgoing, context: ChannelHandlerContext) -> MQTTPacket {
        switch outgoing.packet {
        case .subscribe(var subscribe):
            subscribe.packetID = register(outgoing.reply)
            return .subscribe(subscribe)
        case .unsubscribe(var unsubscribe):
            unsubscribe.packetID = register(outgoing.reply)
            return .unsubscribe(unsubscribe)
        default:
            return outgoing.packet
        }
    }

    private func register(_ promise: EventLoopPromise<MQTTPacket>?) -> UInt16 {
        repeat { lastID = lastID == .max ? 1 : lastID + 1 } while waiting[lastID] != nil || publishes[lastID] != nil
        if let promise { waiting[lastID] = promise }
        return lastID
    }

    /// PUBLISHes (and PINGREQs) many at once, as `MQTTConnection` queues
    /// them: all encoded into one buffer, written and flushed once. QoS 0
    /// messages are done when written; QoS 1 when their PUBACK comes; a
    /// PINGREQ when its PINGRESP does. Per message that saves the promises,
    /// the pipeline's trip and the buffer a write of its own would cost.
    func send(_ batch: some Collection<(MQTTPacket, EventLoopPromise<Void>)>) {
        guard let context, context.channel.isActive else {
            let error = closeReason ?? MQTTError("the connection to the broker closed")
            return batch.forEach { $0.1.fail(error) }
        }
        var bytes = context.channel.allocator.buffer(capacity: batch.count * 64)
        var whenWritten: [EventLoopPromise<Void>] = []
        for (packet, done) in batch {
            switch packet {
            case .publish(let publish) where publish.qos != .atMostOnce:
                held.append((publish, done))
                releaseHeld(into: &bytes)
            case .pingreq:
                pings.append((.now(), done))
                MQTTCodec.encode(.pingreq, version: version, into: &bytes)
            default:
                whenWritten.append(done)
                MQTTCodec.encode(packet, version: version, into: &bytes)
            }
        }
        lastSent = .now()
        let written = whenWritten.isEmpty ? nil : context.eventLoop.makePromise(of: Void.self)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        written?.futureResult.whenComplete { [whenWritten] result in
            let outcome = result.mapError { (bound.value.closeReason as (any Error)?) ?? $0 }
            whenWritten.forEach { $0.completeWith(outcome) }
        }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: written)
    }

    /// Held QoS 1 messages, in order, as far as the in-flight limit allows, encoded into `bytes`.
    private func releaseHeld(into bytes: inout ByteBuffer) {
        // A ring buffer: releasing a few of thousands held moves none of the rest.
        while !held.isEmpty && publishes.count < inFlightLimit {
            var (publish, done) = held.removeFirst()
            publish.packetID = register(nil)
            publishes[publish.packetID!] = (publish.topic, done)
            MQTTCodec.encode(.publish(publish), version: version, into: &bytes)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        input.writeBuffer(&bytes)
        do {
            while let packet = try MQTTCodec.decode(from: &input, version: version, maximumSize: options.maximumPacketSize) {
                try receive(packet, context: context)
            }
            input.discardReadBytes()
            if !held.isEmpty && publishes.count < inFlightLimit {
                var bytes = context.channel.allocator.buffer(capacity: 64 * min(held.count, inFlightLimit - publishes.count))
                releaseHeld(into: &bytes)
                lastSent = .now()
                context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            }
        } catch let error as MQTTError {
            fail(error, context: context)
        } catch {
            fail(MQTTError("\(error)"), context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(MQTTError("\(error)"), context: context)
    }

    private func fail(_ error: MQTTError, context: ChannelHandlerContext) {
        if closeReason == nil { closeReason = error }
        context.close(promise: nil)
    }

    private func receive(_ packet: MQTTPacket, context: ChannelHandlerContext) throws {
        switch packet {
        case .connack(let connack):
            guard let promise = connackPromise else { throw MQTTError("a CONNACK the client did not ask for") }
            if let receiveMaximum = connack.properties.number(0x21) {
                guard receiveMaximum > 0 else { throw MQTTError("a CONNACK with a Receive Maximum of 0") }
                inFlightLimit = min(inFlightLimit, Int(receiveMaximum))
            }
            connackPromise = nil
            connackDeadline?.cancel()
            // Keepalive starts with the session: a PINGREQ before CONNECT would end the connection.
            startKeepalive(context)
            promise.succeed(packet)
        case .publish(let publish):
            messages.yield(publish)
            if let id = publish.packetID { answer(publish.qos == .atLeastOnce ? .puback : .pubrec, id, context: context) }
        case .acknowledgement(let ack):
            try acknowledged(ack, context: context)
        case .suback(let ack), .unsuback(let ack):
            waiting.removeValue(forKey: ack.packetID)?.succeed(packet)
        case .pingresp:
            // One not asked for is not worth closing the connection over.
            if !pings.isEmpty { pings.removeFirst().done?.succeed() }
        case .disconnect(let reason):
            throw MQTTError("the broker disconnected us: reason 0x\(String(reason.reasonCode, radix: 16))"
                                + (reason.properties.text(0x1F).map { ", \($0)" } ?? ""))
        case .connect, .subscribe, .unsubscribe, .pingreq, .auth:
            throw MQTTError("the broker sent a packet only a client sends: \(packet)")
        }
    }

    private func acknowledged(_ ack: Acknowledgement, context: ChannelHandlerContext) throws {
        switch ack.kind {
        case .puback, .pubcomp:
            // Publishes are numbered only by `send`: an id not among them is a late or stray acknowledgement.
            guard let (topic, done) = publishes.removeValue(forKey: ack.packetID) else { return }
            if ack.reasonCode >= 0x80 {
                done.fail(MQTTError("the broker refused the message to \(topic): reason 0x\(String(ack.reasonCode, radix: 16))"))
            } else {
                done.succeed()
            }
        case .pubrec:
            answer(.pubrel, ack.packetID, context: context)
        case .pubrel:
            answer(.pubcomp, ack.packetID, context: context)
        }
    }

    private func answer(_ kind: Acknowledgement.Kind, _ id: UInt16, context: ChannelHandlerContext) {
        var bytes = context.channel.allocator.buffer(capacity: 4)
        MQTTCodec.encode(.acknowledgement(Acknowledgement(kind, packetID: id)), version: version, into: &bytes)
        lastSent = .now()
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }

    /// PINGREQ when nothing was sent for half the keepalive; a broker that
    /// has not answered one within the keepalive is gone.
    private func startKeepalive(_ context: ChannelHandlerContext) {
        let seconds = Int64(options.connect.keepAlive)
        guard seconds > 0 else { return }
        let half = TimeAmount.milliseconds(seconds * 500)
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        keepalive = context.eventLoop.scheduleRepeatedTask(initialDelay: half, delay: half) { _ in
            bound.value.handler.checkKeepalive(bound.value.context, seconds: seconds, half: half)
        }
    }

    private func checkKeepalive(_ context: ChannelHandlerContext, seconds: Int64, half: TimeAmount) {
            let now = NIODeadline.now()
            if let oldest = pings.first?.sent, now - oldest > .seconds(seconds) {
                return fail(MQTTError("the broker did not answer a PINGREQ within the keepalive (\(seconds) s)"), context: context)
            }
            guard pings.isEmpty, now - lastSent >= half else { return }
            pings.append((now, nil))
            var bytes = context.channel.allocator.buffer(capacity: 2)
            MQTTCodec.encode(.pingreq, version: version, into: &bytes)
            lastSent = now
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }
}
