import Foundation
import Serial
import Synchronization
import TestSupport

/// A serial device server of the test's own, between a TCP client and a
/// pty: it passes the bytes both ways, but writes what the line sends back
/// in pieces of random size at random moments (so TCP splits and joins
/// frames anywhere), and with `noise` puts random bytes between frames
/// (before bytes that follow a silence: the start of a reply).
final class SplittingServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    /// Used by the server's thread only.
    private let line: SerialPort

    init(device: String, settings: SerialSettings, noise: Bool) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 4) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound else { throw Peers.Missing(description: "the splitting server cannot listen") }
        port = Int(UInt16(bigEndian: address.sin_port))
        line = try SerialPort(path: device, settings: settings)
        Thread.detachNewThread { [self] in
            defer { done.signal() }
            var random = SystemRandomNumberGenerator()
            while !stopping.load(ordering: .relaxed) {
                guard let client = accept(within: 200) else { continue }
                relay(client, line, noise: noise, random: &random)
                close(client)
            }
        }
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        done.wait()
        close(listener)
    }

    private func accept(within milliseconds: Int32) -> Int32? {
        var request = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&request, 1, milliseconds) > 0 else { return nil }
        let client = Glibc.accept(listener, nil, nil)
        // Not into the processes other tests start (they would hold the connection open).
        if client >= 0 { _ = fcntl(client, F_SETFD, FD_CLOEXEC) }
        return client >= 0 ? client : nil
    }

    /// Both ways until the client goes or the server stops.
    private func relay(_ client: Int32, _ line: SerialPort, noise: Bool, random: inout SystemRandomNumberGenerator) {
        var buffer = [UInt8](repeating: 0, count: 512)
        var lastHeard = ContinuousClock.now
        while !stopping.load(ordering: .relaxed) {
            var requests = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: line.descriptor, events: Int16(POLLIN), revents: 0)]
            guard poll(&requests, 2, 100) >= 0 else { return }
            if requests[0].revents != 0 {
                let count = read(client, &buffer, buffer.count)
                guard count > 0 else { return }
                _ = buffer.withUnsafeBytes { write(line.descriptor, $0.baseAddress, count) }
            }
            if requests[1].revents & Int16(POLLIN) != 0 {
                let count = read(line.descriptor, &buffer, buffer.count)
                guard count > 0 else { continue }
                var bytes = Array(buffer[0..<count])
                let afterSilence = ContinuousClock.now - lastHeard > .milliseconds(5)
                lastHeard = .now
                if noise && afterSilence && Int.random(in: 0..<3, using: &random) == 0 {
                    bytes = (0..<Int.random(in: 1...6, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) } + bytes
                }
                // In pieces of 1-7 bytes, each sent on its own after up to a millisecond.
                while !bytes.isEmpty {
                    let piece = Array(bytes.prefix(Int.random(in: 1...7, using: &random)))
                    bytes.removeFirst(piece.count)
                    _ = piece.withUnsafeBytes { write(client, $0.baseAddress, piece.count) }
                    usleep(UInt32.random(in: 0...1000, using: &random))
                }
            }
        }
    }
}
