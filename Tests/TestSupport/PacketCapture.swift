import Foundation

/// A capture of loopback with dumpcap, for tshark to decode afterwards.
public enum PacketCapture {
    /// dumpcap on loopback (one process: tshark -w leaves its dumpcap child
    /// still writing after it exits), started with every signal unblocked (a
    /// test thread's mask would be inherited), ready once its file is open.
    /// No capture filter: in this container a BPF filter on lo lets nothing
    /// through, so the port is chosen when reading instead.
    public static func start(into file: String) throws -> PeerProcess {
        let unblock = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])"
        let capture = try PeerProcess(Peers.python(), ["-c", unblock, try Peers.program("dumpcap"),
                                                       "-i", "lo", "-w", file])
        try capture.waitForError(containing: "File: ")
        try awaitLive(capture)
        return capture
    }

    /// dumpcap opens its file a moment before it sees packets: probe until
    /// it counts one.
    private static func awaitLive(_ capture: PeerProcess) throws {
        let probe = try Probe()
        let deadline = Date().addingTimeInterval(10)
        while !capture.standardError.contains("Packets: ") {
            guard Date() < deadline else { throw Peers.Missing(description: "dumpcap saw no probe: \(capture.standardError)") }
            probe.send()
            usleep(50_000)
        }
    }

    /// UDP datagrams to the discard port of loopback: packets a capture of lo
    /// must see, whose only purpose is to be seen.
    public struct Probe: ~Copyable {
        private let socket: Int32
        private var address = sockaddr_in()

        public init() throws {
            socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard socket >= 0 else { throw Peers.Missing(description: "no UDP socket: errno \(errno)") }
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(9).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
        }

        public func send() {
            var target = address
            _ = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(socket, "probe", 5, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }

        deinit { close(socket) }
    }
}
