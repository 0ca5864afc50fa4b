import NIOCore

/// Splits a TCP stream into MBAP frames, however the bytes arrive: several
/// frames in one read or one frame across reads. A protocol id other than 0,
/// or a length under 2 or over 254, is an `MBAPError`: the connection is
/// closed, as its framing can no longer be trusted.
public struct MBAPDecoder: ByteToMessageDecoder, Sendable {
    /// Each complete frame is passed on as an ``MBAPFrame``.
    public typealias InboundOut = MBAPFrame

    /// A decoder with nothing buffered.
    public init() {}

    /// Passes on the next complete frame, if the buffer holds one.
    /// - Throws: ``MBAPError`` for a header no peer sends.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.frame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    /// The next complete frame, consumed from `buffer`; nil until it is all there.
    public static func frame(from buffer: inout ByteBuffer) throws(MBAPError) -> MBAPFrame? {
        guard let transaction = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
              let protocolID = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self),
              let length = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt16.self) else { return nil }
        guard protocolID == 0 else { throw MBAPError(reason: "protocol id \(protocolID), not 0") }
        guard (2...MBAPFrame.maximumLength).contains(Int(length)) else {
            throw MBAPError(reason: "length \(length), not 2 to \(MBAPFrame.maximumLength)")
        }
        guard buffer.readableBytes >= 6 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 6)
        let unit = buffer.readInteger(as: UInt8.self)!
        let pdu = buffer.readBytes(length: Int(length) - 1)!
        return MBAPFrame(transaction: transaction, unit: unit, pdu: pdu)
    }
}

/// Writes MBAP frames.
public struct MBAPEncoder: MessageToByteEncoder, Sendable {
    /// Takes ``MBAPFrame`` values to write.
    public typealias OutboundIn = MBAPFrame

    /// An encoder; it keeps no state.
    public init() {}

    /// Writes `frame` into `out`.
    public func encode(data frame: MBAPFrame, out: inout ByteBuffer) {
        Self.write(frame, to: &out)
    }

    /// Writes `frame` with its header (protocol id 0, length of the unit and
    /// PDU), for writers outside a NIO pipeline.
    public static func write(_ frame: MBAPFrame, to out: inout ByteBuffer) {
        out.writeInteger(frame.transaction)
        out.writeInteger(UInt16(0))
        out.writeInteger(UInt16(frame.pdu.count + 1))
        out.writeInteger(frame.unit)
        out.writeBytes(frame.pdu)
    }
}
