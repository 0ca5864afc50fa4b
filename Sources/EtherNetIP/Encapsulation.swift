import NIOCore

/// One EtherNet/IP encapsulation message: the 24-byte header (all
/// little-endian) and its data. The sender context is echoed untouched.
public struct Encapsulation: Hashable, Sendable {
    /// The command code, one of ``EncapsulationCommand``'s.
    public var command: UInt16
    /// The session handle RegisterSession gave; 0 before there is one.
    public var session: UInt32
    /// 0 for success, else one of ``EncapsulationStatus``'s codes (in a reply).
    public var status: UInt32
    /// Eight bytes of the sender's own, returned unchanged in the reply.
    public var context: [UInt8]
    /// Option flags: 0, as the spec requires.
    public var options: UInt32
    /// The command's data, after the header.
    public var data: [UInt8]

    /// A message of `command`; `context` must be eight bytes.
    public init(command: UInt16, session: UInt32 = 0, status: UInt32 = 0, context: [UInt8] = Array(repeating: 0, count: 8),
                options: UInt32 = 0, data: [UInt8] = []) {
        self.command = command
        self.session = session
        self.status = status
        self.context = context
        self.options = options
        self.data = data
    }

    /// The header's size in bytes.
    public static let headerLength = 24

    /// The reply to this request: same command, session and context.
    func reply(status: UInt32 = 0, session: UInt32? = nil, data: [UInt8] = []) -> Encapsulation {
        Encapsulation(command: command, session: session ?? self.session, status: status, context: context, options: 0, data: data)
    }

    /// The next whole message in `buffer`, consumed; nil until it is all there.
    public static func message(from buffer: inout ByteBuffer) -> Encapsulation? {
        guard let length = buffer.getInteger(at: buffer.readerIndex + 2, endianness: .little, as: UInt16.self),
              buffer.readableBytes >= headerLength + Int(length) else { return nil }
        let command = buffer.readInteger(endianness: .little, as: UInt16.self)!
        buffer.moveReaderIndex(forwardBy: 2)
        let session = buffer.readInteger(endianness: .little, as: UInt32.self)!
        let status = buffer.readInteger(endianness: .little, as: UInt32.self)!
        let context = buffer.readBytes(length: 8)!
        let options = buffer.readInteger(endianness: .little, as: UInt32.self)!
        return Encapsulation(command: command, session: session, status: status, context: context, options: options,
                             data: buffer.readBytes(length: Int(length))!)
    }

    /// Writes the header (the length from `data`) and the data, little-endian.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(command, endianness: .little)
        buffer.writeInteger(UInt16(data.count), endianness: .little)
        buffer.writeInteger(session, endianness: .little)
        buffer.writeInteger(status, endianness: .little)
        buffer.writeBytes(context)
        buffer.writeInteger(options, endianness: .little)
        buffer.writeBytes(data)
    }

    /// The message as sent.
    public var bytes: [UInt8] {
        var buffer = ByteBuffer()
        write(to: &buffer)
        return Array(buffer.readableBytesView)
    }
}

/// Encapsulation commands.
public enum EncapsulationCommand {
    /// NOP: no reply is sent.
    public static let nop: UInt16 = 0x00
    /// ListServices: the encapsulation services offered (CIP over TCP and UDP).
    public static let listServices: UInt16 = 0x04
    /// ListIdentity: the device's identity, also by UDP broadcast.
    public static let listIdentity: UInt16 = 0x63
    /// ListInterfaces: none here.
    public static let listInterfaces: UInt16 = 0x64
    /// RegisterSession: opens a session and gets its handle.
    public static let registerSession: UInt16 = 0x65
    /// UnregisterSession: ends the session; no reply is sent.
    public static let unregisterSession: UInt16 = 0x66
    /// SendRRData: an unconnected request and its reply.
    public static let sendRRData: UInt16 = 0x6F
    /// SendUnitData: a connected message on a Forward Open connection.
    public static let sendUnitData: UInt16 = 0x70
}

/// Encapsulation status codes.
public enum EncapsulationStatus {
    /// The command is not one the target knows.
    public static let invalidCommand: UInt32 = 0x01
    /// The data is malformed for its command.
    public static let incorrectData: UInt32 = 0x03
    /// The session handle is not one the target registered.
    public static let invalidSession: UInt32 = 0x64
    /// The message's length is wrong, or too large.
    public static let invalidLength: UInt32 = 0x65
    /// RegisterSession asked for a protocol version other than 1.
    public static let unsupportedProtocol: UInt32 = 0x69
}
