import NIOCore

/// One client of a stream server: its socket, the bytes read and not yet
/// framed, the replies encoded and not yet written, and its session.
/// Touched only by its server loop's thread.
final class ServerConnection {
    let socket: Int32
    let remote: StreamClient
    let session: any StreamSession
    var input = ByteBuffer()
    var output = ByteBuffer()
    /// The events epoll reports for it now.
    var interest: UInt32
    /// When it last sent anything.
    var lastActivity = ContinuousClock.now
    /// Since when the bytes in `input` have not made a whole request.
    var partialSince: ContinuousClock.Instant?
    /// No more requests are read; it closes once its replies are sent.
    var closing = false

    /// Nothing owed to it: no reply waiting or unsent.
    var isIdle: Bool { !session.owes && output.readableBytes == 0 }

    init(socket: Int32, remote: StreamClient, session: any StreamSession, interest: UInt32) {
        self.socket = socket
        self.remote = remote
        self.session = session
        self.interest = interest
        input.reserveCapacity(ServerConnection.readSize)
        output.reserveCapacity(ServerConnection.readSize)
    }

    /// Bytes asked of the kernel per read: many pipelined requests at once.
    static let readSize = 16 * 1024
}
