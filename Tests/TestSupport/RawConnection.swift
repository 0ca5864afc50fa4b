import Foundation

/// A plain TCP connection for sending what no client library would.
public final class RawConnection {
    public let descriptor: Int32

    /// `receiveBuffer` shrinks the socket's receive buffer (before connecting,
    /// so that the window is small): a client slow to take its replies.
    public init(port: Int, receiveBuffer: Int32? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if var size = receiveBuffer {
            _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw Peers.Missing(description: "connect: \(String(cString: strerror(errno)))") }
    }

    deinit { close(descriptor) }

    public func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } }

    /// Up to `count` bytes, waiting at most `milliseconds` for each part.
    public func receive(count: Int, within milliseconds: Int32 = 2000) -> [UInt8] {
        var bytes: [UInt8] = []
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while bytes.count < count && poll(&request, 1, milliseconds) > 0 {
            var chunk = [UInt8](repeating: 0, count: count - bytes.count)
            let got = read(descriptor, &chunk, chunk.count)
            guard got > 0 else { break }
            bytes += chunk[0..<got]
        }
        return bytes
    }

    public func readsEndOfFile(within seconds: Int32) -> Bool {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&request, 1, seconds * 1000) > 0 else { return false }
        var byte: UInt8 = 0
        return read(descriptor, &byte, 1) == 0
    }
}
