import Foundation
import Synchronization
import TestSupport

/// A Modbus/TCP device of the test's own, to show what real servers rarely
/// do on demand. Its first connection holds `batch` requests (reads of one
/// holding register), then answers them in reverse order after a reply with
/// a transaction id nobody sent; then it reads one more request and hangs up
/// without answering it. Every later connection answers each request at once.
/// A register's value is its address × 10.
final class ScriptedMBAPServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    /// The most requests the server held at once without answering.
    let mostHeld = Atomic<Int>(0)

    init(batch: Int) throws {
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
        guard bound else { throw Peers.Missing(description: "the scripted server cannot listen") }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in
            defer { done.signal() }
            var first = true
            while !stopping.load(ordering: .relaxed) {
                guard let client = accept(within: 200) else { continue }
                if first { script(client, batch: batch) } else { answerEach(client) }
                first = false
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

    private func script(_ client: Int32, batch: Int) {
        var held: [[UInt8]] = []
        while held.count < batch, let request = readRequest(client) {
            held.append(request)
            mostHeld.store(held.count, ordering: .relaxed)
        }
        send(client, reply(to: [0xBE, 0xEF] + held[0].dropFirst(2)))
        for request in held.reversed() { send(client, reply(to: request)) }
        _ = readRequest(client)
    }

    private func answerEach(_ client: Int32) {
        while !stopping.load(ordering: .relaxed), let request = readRequest(client) { send(client, reply(to: request)) }
    }

    /// One whole request (a read of holding registers is 12 bytes), or nil when the client goes or the server stops.
    private func readRequest(_ client: Int32) -> [UInt8]? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 12)
        while bytes.count < 12 {
            var request = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            guard !stopping.load(ordering: .relaxed) else { return nil }
            guard poll(&request, 1, 100) > 0 else { continue }
            let count = read(client, &buffer, 12 - bytes.count)
            guard count > 0 else { return nil }
            bytes += buffer[0..<count]
        }
        return bytes
    }

    /// The reply to a read of one holding register: its address × 10.
    private func reply(to request: [UInt8]) -> [UInt8] {
        let value = (Int(request[8]) << 8 | Int(request[9])) * 10
        return Array(request[0..<4]) + [0, 5, request[6], 3, 2, UInt8(value >> 8), UInt8(value & 0xFF)]
    }

    private func send(_ client: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, bytes.count) }
    }
}
