import Foundation
import Serial
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A Mosquitto broker of the test's own, on a free loopback port.
public final class Mosquitto: @unchecked Sendable {
    public private(set) var port = 0
    private var process: PeerProcess?
    private let directory: String
    private let config: String

    /// With `tls`, the listener takes TLS only, with the server certificate
    /// of `certificates`, and with `clientCertificates` it requires one from the client.
    /// With `persistent`, it saves its sessions when it stops and takes
    /// them up again on `restart()`, QoS 0 messages included.
    public init(tls certificates: TestCertificates? = nil, clientCertificates: Bool = false, persistent: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-mosquitto-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        config = "\(directory)/mosquitto.conf"
        // A port free when picked may be taken before Mosquitto binds it: then another.
        var attempt = 0
        while true {
            port = try Peers.freePort()
            // `user root`: started as root, Mosquitto would otherwise run as its
            // own user, which cannot read the test's keys.
            var text = "listener \(port) 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nuser root\n"
            text += persistent
                ? "persistence true\npersistence_location \(directory)/\nqueue_qos0_messages true\nmax_queued_messages 100000\n"
                : "persistence false\n"
            if let certificates {
                text += "cafile \(certificates.ca)\ncertfile \(certificates.server)\nkeyfile \(certificates.serverKey)\n"
                text += "require_certificate \(clientCertificates)\n"
            }
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            do {
                try start()
                return
            } catch where attempt < 3 {
                attempt += 1
            }
        }
    }

    private func start() throws {
        let program = (try? Peers.program("mosquitto")) ?? "/usr/sbin/mosquitto"
        // Started through Python with every signal unblocked: a child of a
        // test thread inherits a mask in which dispatch blocks SIGTERM and
        // SIGINT, and a broker that cannot hear them is killed, unsaved.
        let unblocked = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
        let process = try PeerProcess(Peers.python(), ["-c", unblocked, program, "-c", config])
        self.process = process
        // Its own word that it listens, not a connection that succeeds: the
        // port, free when picked, may since be another test's (a server on
        // port 0 can be given it), and then Mosquitto fails to bind it.
        // (It logs the port before it binds, "running" only once it serves.)
        try process.waitForError(containing: " running")
    }

    /// Stops it as a service manager would (SIGTERM) and starts it again on the same port.
    public func restart() throws {
        process?.stop(signal: SIGTERM)
        try start()
    }

    public func stop() {
        process?.stop(signal: SIGTERM)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A CA, a server certificate for localhost, and a client
/// certificate, made by openssl for one test.
public struct TestCertificates: Sendable {
    public let directory: String
    public var ca: String { "\(directory)/ca.pem" }
    public var server: String { "\(directory)/server.pem" }
    public var serverKey: String { "\(directory)/server.key" }
    public var client: String { "\(directory)/client.pem" }
    public var clientKey: String { "\(directory)/client.key" }

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // No IP address in it: NIOSSL would take 127.0.0.1 for a match whatever name the client expects.
        try "subjectAltName=DNS:localhost\n".write(toFile: "\(directory)/san.ext", atomically: true, encoding: .utf8)
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(directory)/ca.key", "-out", ca, "-days", "2",
                     "-subj", "/CN=fieldgw test CA"])
        for (name, extensions) in [("server", true), ("client", false)] {
            try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).csr",
                         "-subj", "/CN=\(name == "server" ? "localhost" : "fieldgw-client")"])
            try openssl(["x509", "-req", "-in", "\(directory)/\(name).csr", "-CA", ca, "-CAkey", "\(directory)/ca.key", "-CAcreateserial",
                         "-out", "\(directory)/\(name).pem", "-days", "2"] + (extensions ? ["-extfile", "\(directory)/san.ext"] : []))
        }
    }

    private func openssl(_ arguments: [String]) throws {
        let output = try Peers.run(Peers.program("openssl"), arguments)
        guard output.status == 0 else { throw Peers.Missing(description: "openssl \(arguments.first ?? ""): \(output.stderr)") }
    }

    public func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// A TCP relay of the test's own in front of a broker, on a port it holds
/// for the whole test: `cut(for:)` closes every connection through it and
/// refuses new ones for a while, as a broker or a network that goes away.
public final class Relay: @unchecked Sendable {
    public let port: Int
    private let listener: SocketListener
    /// The descriptors of the connections through it (their ports are the relay threads').
    private let state = Mutex<(refusingUntil: ContinuousClock.Instant, open: [Int32], running: Bool)>((.now, [], true))

    public init(to target: Int) throws {
        listener = try SocketListener(host: "127.0.0.1", port: 0)
        port = listener.port
        Thread.detachNewThread { [self] in
            while state.withLock({ $0.running }) {
                guard let client = listener.accept(within: .milliseconds(50), settings: SerialSettings()) else { continue }
                guard state.withLock({ ContinuousClock.now >= $0.refusingUntil }),
                      let broker = try? SerialPort(connectingTo: "127.0.0.1", port: target, timeout: .seconds(2)) else { continue }
                state.withLock { $0.open += [client.descriptor, broker.descriptor] }
                // The relay's thread is the ports' only reader and writer from here on.
                nonisolated(unsafe) let pair = (client, broker)
                let descriptors = [client.descriptor, broker.descriptor]
                Thread.detachNewThread { [self] in
                    Self.relay(pair.0, pair.1)
                    // Out of the list before the ports close: a cut must never shut down a number since reused.
                    state.withLock { $0.open.removeAll { descriptors.contains($0) } }
                }
            }
        }
    }

    /// Both ways until either side closes.
    private static func relay(_ one: SerialPort, _ other: SerialPort) {
        var requests = [pollfd(fd: one.descriptor, events: Int16(POLLIN), revents: 0), pollfd(fd: other.descriptor, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while poll(&requests, 2, 200) >= 0 {
            for (from, to) in [(0, 1), (1, 0)] where requests[from].revents != 0 {
                let count = read(requests[from].fd, &buffer, buffer.count)
                guard count > 0 else { return }
                _ = buffer.withUnsafeBytes { write(requests[to].fd, $0.baseAddress, count) }
            }
        }
    }

    /// Closes every connection through the relay and refuses new ones for `duration`.
    public func cut(for duration: Duration) {
        // Shut down, not closed, and under the lock: the relay threads hold
        // the descriptors, and close them only once out of the list.
        state.withLock { state in
            state.refusingUntil = .now + duration
            state.open.forEach { _ = shutdown($0, Int32(SHUT_RDWR)) }
        }
    }

    public func stop() {
        cut(for: .zero)
        state.withLock { $0.running = false }
    }
}

