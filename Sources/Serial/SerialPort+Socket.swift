#if canImport(Glibc)
import Glibc
#endif
import CSerialShim

extension SerialPort {
    /// A TCP connection to a serial device server (ser2net, a Moxa NPort)
    /// that passes a line's raw bytes: read, written and timed as a local
    /// port is. `settings` give the line's speed at the far end, for t3.5.
    /// A refused or slow connection is `.open`; a lost one, `.disconnected`.
    public convenience init(connectingTo host: String, port: Int, settings: SerialSettings = SerialSettings(),
                            timeout: Duration = .seconds(3)) throws(SerialError) {
        let name = "\(host):\(port)"
        let descriptor = try Self.connect(host, port, name: name, timeout: timeout)
        self.init(socket: descriptor, name: name, settings: settings)
    }

    private static func connect(_ host: String, _ port: Int, name: String, timeout: Duration) throws(SerialError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, "\(port)", &hints, &found) == 0, let first = found else {
            throw SerialError(.open, path: name, "cannot resolve \(host)")
        }
        defer { freeaddrinfo(found) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .system(.open, path: name, "socket") }
        if Glibc.connect(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
            let failure = SerialError.system(.open, path: name, "connect")
            Glibc.close(descriptor)
            throw failure
        }
        // Non-blocking connect: writable when done; SO_ERROR says how it went.
        var request = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var problem: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard poll(&request, 1, milliseconds) == 1, getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &problem, &length) == 0, problem == 0 else {
            Glibc.close(descriptor)
            throw SerialError(.open, path: name, problem != 0 ? String(cString: strerror(problem)) : "no connection within \(timeout)")
        }
        var on: Int32 = 1
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        keepAlive(descriptor)
        return descriptor
    }

    /// TCP keepalive probes after 10 s of silence, every 5 s, 3 of them: a
    /// remote that vanished (power cut, cable pulled) is noticed within 25 s
    /// instead of the kernel's two hours.
    private static func keepAlive(_ descriptor: Int32) {
        let size = socklen_t(MemoryLayout<Int32>.size)
        for (level, option, value) in [(SOL_SOCKET, SO_KEEPALIVE, 1), (Int32(IPPROTO_TCP), TCP_KEEPIDLE, 10),
                                       (Int32(IPPROTO_TCP), TCP_KEEPINTVL, 5), (Int32(IPPROTO_TCP), TCP_KEEPCNT, 3)] {
            var setting = Int32(value)
            _ = setsockopt(descriptor, level, option, &setting, size)
        }
    }

    /// Shuts a socket down both ways: a thread blocked reading it wakes to
    /// find it closed. The descriptor itself closes with the port.
    public func hangUp() {
        guard isSocket else { return }
        _ = shutdown(descriptor, Int32(SHUT_RDWR))
    }

    /// Reads away what has arrived and is unread (a socket has no tcflush).
    func discardPendingInput(_ queue: Queue) throws(SerialError) {
        guard queue != .output else { return }
        var scratch = [UInt8](repeating: 0, count: 512)
        while true {
            let count = Glibc.read(descriptor, &scratch, scratch.count)
            if count > 0 { continue }
            if count == 0 { throw SerialError(.disconnected, path: path, "the device server closed the connection") }
            if errno == EINTR { continue }
            guard errno == EAGAIN else { throw .system(.disconnected, path: path, "read") }
            return
        }
    }
}

/// A TCP port that takes connections as serial lines: the far end of a
/// serial device server, for simulators that speak RTU over TCP.
public final class SocketListener: Sendable {
    /// The port listened on: the one asked for, or the kernel's choice for 0.
    public let port: Int
    private let descriptor: Int32

    /// Listens on `host:port` (port 0: one of the kernel's choosing).
    public init(host: String, port: Int) throws(SerialError) {
        let name = "\(host):\(port)"
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw SerialError(.open, path: name, "\(host) is not an IPv4 address") }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .system(.open, path: name, "socket") }
        var on: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && listen(descriptor, 64) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else {
            let failure = SerialError.system(.open, path: name, "listen")
            Glibc.close(descriptor)
            throw failure
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { Glibc.close(descriptor) }

    /// The next connection, as a port with `settings`' timing; nil when none came within `timeout`.
    public func accept(within timeout: Duration, settings: SerialSettings) -> SerialPort? {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&request, 1, milliseconds) > 0 else { return nil }
        let client = Glibc.accept(descriptor, nil, nil)
        guard client >= 0 else { return nil }
        // Non-blocking as every port is: reads wait with ppoll against a deadline.
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
        // Close-on-exec, as every descriptor here: a process the host program starts must not hold it open.
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        var on: Int32 = 1
        _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        return SerialPort(socket: client, name: "tcp client of \(port)", settings: settings)
    }
}
