#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import Synchronization

/// What a stream server speaks (Modbus/TCP, EtherNet/IP): it makes each
/// client's session. The loop around it accepts, reads, writes, times out
/// and closes; the session frames requests and answers them.
public protocol StreamService: Sendable {
    /// "Modbus/TCP", "EtherNet/IP": for log lines.
    var name: String { get }
    /// The session for a client just admitted, on its loop's thread.
    func session(for client: StreamClient) -> any StreamSession
}

/// One client's protocol state. Touched only by its loop's thread.
public protocol StreamSession: AnyObject {
    /// Frames and serves the whole requests at the front of `input` (taking
    /// them from it), writing the replies known now to `output` in order
    /// and counting error replies in `tally`. A reply that must wait comes
    /// back through `StreamClient.post` and then `complete`.
    func receive(_ input: inout ByteBuffer, into output: inout ByteBuffer, tally: inout LoopTally) -> Received
    /// The reply `sequence` that waited, now on the loop's thread (nil: none
    /// is sent, a broadcast or a lost reply); writes to `output` what is now in order.
    func complete(_ sequence: Int, reply: [UInt8]?, into output: inout ByteBuffer, tally: inout LoopTally)
    /// True while some reply is still owed to the client.
    var owes: Bool { get }
    /// The connection has closed (replies still to come go nowhere).
    func closed()
}

/// What a session made of the bytes read.
public struct Received {
    /// Requests read (and answered, or waiting).
    public var requests: Int
    /// Set to close the connection once what was read is answered.
    public var end: SessionEnd?

    public init(requests: Int, end: SessionEnd? = nil) {
        self.requests = requests
        self.end = end
    }
}

/// Why a session closes its connection once answered.
public enum SessionEnd: Sendable, CustomStringConvertible {
    /// The client asked to (EtherNet/IP's UnregisterSession).
    case asked
    /// It sent what cannot be framed; said in the log.
    case malformed(String)

    public var description: String {
        switch self {
        case .asked: "closed at the client's request"
        case .malformed(let why): why
        }
    }
}

/// A client as its session sees it: who it is, where its waiting replies
/// make their futures, and how they come back to its loop from any thread.
public final class StreamClient: Sendable {
    /// Never reused (a socket number is).
    public let id: Int
    /// "127.0.0.1:47398".
    public let peer: String
    public let address: SocketAddress?
    /// The server's end of the connection (the interface the client reached).
    public let localAddress: SocketAddress?
    /// Where a reply that must wait (a serial line) makes its future.
    public let eventLoop: any EventLoop
    private let deliver: @Sendable (Int, Int, [UInt8]?) -> Void
    private let open = Atomic(true)
    private static let nextID = Atomic(1)

    init(peer: String, address: SocketAddress?, localAddress: SocketAddress?, eventLoop: any EventLoop,
         deliver: @escaping @Sendable (Int, Int, [UInt8]?) -> Void) {
        id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.peer = peer
        self.address = address
        self.localAddress = localAddress
        self.eventLoop = eventLoop
        self.deliver = deliver
    }

    /// Hands the reply `sequence` that waited to the loop, from any thread.
    public func post(_ sequence: Int, reply: [UInt8]?) { deliver(id, sequence, reply) }

    /// False once the connection has closed.
    public var isOpen: Bool { open.load(ordering: .relaxed) }

    func close() { open.store(false, ordering: .relaxed) }
}

/// A client connected, and what it has sent (kept when the server tracks clients).
public struct ConnectedClient: Sendable {
    let id: Int
    public var interface: String
    public var port: Int
    /// Bytes received from it.
    public var received = 0
    /// Requests received from it.
    public var requests = 0
    /// cpppo's name for it: "127_0_0_1_52591".
    public var key: String { interface.replacingOccurrences(of: ".", with: "_").replacingOccurrences(of: ":", with: "_") + "_\(port)" }
}

/// How long a client may hold a connection without using it.
public struct ServerTimeouts: Sendable, Hashable {
    /// A client that sends nothing this long, with no reply due to it, is
    /// closed (nil: never).
    public var idle: Duration?
    /// A request begun and not finished within this is dropped with its
    /// connection (slowloris, a half-sent request).
    public var frame: Duration

    public init(idle: Duration? = .seconds(300), frame: Duration = .seconds(5)) {
        self.idle = idle
        self.frame = frame
    }
}

/// Counts a loop keeps in plain integers and hands to its metrics once per wake-up.
public struct LoopTally: Sendable {
    public var accepted = 0
    public var closed = 0
    public var requests = 0
    /// Error replies by the protocol's code (Modbus exception codes), counted by sessions.
    public var codes: [UInt8: Int] = [:]
    public var isEmpty: Bool { accepted == 0 && closed == 0 && requests == 0 && codes.isEmpty }

    public init() {}
}

/// Where a loop's counts go.
public protocol LoopMetrics: Sendable {
    /// Takes the counts since the last call (and empties `tally`); called
    /// only when it has some. `connected` is the clients connected now.
    func add(_ tally: inout LoopTally, connected: Int)
}

/// A socket call that failed, with its errno.
public struct ServerSocketError: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32
    public var description: String { "\(operation): \(String(cString: strerror(code))) (errno \(code))" }

    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }
}
