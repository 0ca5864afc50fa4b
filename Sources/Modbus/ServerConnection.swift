import NIOCore

/// One client of the Modbus/TCP server: its socket, the bytes read and not
/// yet framed, the replies encoded and not yet written, and their order.
/// Touched only by its server loop's thread.
final class ServerConnection {
    let socket: Int32
    let connection = ModbusConnection()
    let peer: String
    /// Where a reply that must wait (for a serial line) makes its future.
    let eventLoop: any EventLoop
    var input = ByteBuffer()
    var output = ByteBuffer()
    var order = ReplyOrder()
    /// The events epoll reports for it now.
    var interest: UInt32
    /// When it last sent anything.
    var lastActivity = ContinuousClock.now
    /// Since when the bytes in `input` have not made a whole frame.
    var partialSince: ContinuousClock.Instant?
    /// No more requests are read; it closes once its replies are sent.
    var closing = false

    /// Nothing owed to it: no reply waiting or unsent.
    var isIdle: Bool { order.isEmpty && output.readableBytes == 0 }

    init(socket: Int32, peer: String, eventLoop: any EventLoop, interest: UInt32) {
        self.socket = socket
        self.peer = peer
        self.eventLoop = eventLoop
        self.interest = interest
        input.reserveCapacity(ServerConnection.readSize)
        output.reserveCapacity(ServerConnection.readSize)
    }

    /// Bytes asked of the kernel per read: many pipelined requests at once.
    static let readSize = 16 * 1024
    /// Replies a client has not read beyond this stop its requests being read.
    static let outputLimit = 1 << 20
}
