import NIOCore

/// One EtherNet/IP encapsulation message: the 24-byte header (all
/// little-endian) and its data. The sender context is echoed untouched.
public struct Encapsulation: Hashable, Sendable {
    public var command: UInt16
    public var session: UInt32
    public var status: UInt32
    public var context: [UInt8]
    public var options: UInt32
    public var data: [UInt8]

    public init(command: UInt16, session: UInt32 = 0, status: UInt32 = 0, context: [UInt8] = Array(repeating: 0, count: 8),
                options: UInt32 = 0, data: [UInt8] = []) {
        self.command = command
        self.session = session
        self.status = status
        self.context = context
        self.options = options
        self.data = data
    }

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

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(command, endianness: .little)
        buffer.writeInteger(UInt16(data.count), endianness: .little)
        buffer.writeInteger(session, endianness: .little)
        buffer.writeInteger(status, endianness: .little)
        buffer.writeBytes(context)
        buffer.writeInteger(options, endianness: .little)
        buffer.writeBytes(data)
    }

    public var bytes: [UInt8] {
        var buffer = ByteBuffer()
        write(to: &buffer)
        return Array(buffer.readableBytesView)
    }
}

/// Encapsulation commands.
public enum EncapsulationCommand {
    public static let nop: UInt16 = 0x00
    public static let listServices: UInt16 = 0x04
    public static let listIdentity: UInt16 = 0x63
    public static let listInterfaces: UInt16 = 0x64
    public static let registerSession: UInt16 = 0x65
    public static let unregisterSession: UInt16 = 0x66
    public static let sendRRData: UInt16 = 0x6F
    public static let sendUnitData: UInt16 = 0x70
}

/// Encapsulation status codes.
public enum EncapsulationStatus {
    public static let invalidCommand: UInt32 = 0x01
    public static let incorrectData: UInt32 = 0x03
    public static let invalidSession: UInt32 = 0x64
    public static let invalidLength: UInt32 = 0x65
    public static let unsupportedProtocol: UInt32 = 0x69
}
