#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal pair: the `path` of its device end, opened as a serial
/// port would be, and the `controller` descriptor that plays the far side.
/// Closing (or releasing) it closes both descriptors: keep it alive while a
/// port uses its path, or the line goes away under the port.
public final class PseudoTerminal {
    /// The descriptor of the controlling side: bytes written to it reach the
    /// port, and what the port writes is read from it.
    public let controller: Int32
    /// The device end's path (/dev/pts/N), to open as a ``SerialPort``.
    public let path: String
    private let device: Int32
    /// Whether ``PseudoTerminal/close()`` has run: both descriptors are gone.
    public private(set) var isClosed = false

    /// Opens a new pty pair, both ends raw and close-on-exec.
    public init() throws(SerialError) {
        var controller: Int32 = -1
        var device: Int32 = -1
        guard openpty(&controller, &device, nil, nil, nil) == 0 else { throw .system(.open, path: "pty", "openpty") }
        _ = fcntl(controller, F_SETFD, FD_CLOEXEC)
        _ = fcntl(device, F_SETFD, FD_CLOEXEC)
        self.controller = controller
        self.device = device
        // ttyname_r: ttyname's static buffer is shared by every thread.
        var name = [CChar](repeating: 0, count: 128)
        guard ttyname_r(device, &name, name.count) == 0 else {
            Glibc.close(controller)
            Glibc.close(device)
            throw .system(.open, path: "pty", "ttyname_r")
        }
        path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Raw on both ends, so the pty itself does not echo or translate.
        for descriptor in [controller, device] {
            var attributes = termios()
            tcgetattr(descriptor, &attributes)
            cfmakeraw(&attributes)
            tcsetattr(descriptor, TCSANOW, &attributes)
        }
    }

    /// Writes to the far side of the line.
    public func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = Glibc.write(controller, $0.baseAddress, $0.count) }
    }

    /// Reads what the far side has received, waiting up to `timeout` for the first bytes.
    public func receive(limit: Int = 4096, timeout: Duration = .milliseconds(500)) -> [UInt8] {
        var request = pollfd(fd: controller, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&request, 1, milliseconds) > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: limit)
        let count = bytes.withUnsafeMutableBytes { Glibc.read(controller, $0.baseAddress, limit) }
        return count > 0 ? Array(bytes[0..<count]) : []
    }

    /// Closes both ends held here: the line's far side goes away, as on an unplug.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(controller)
        Glibc.close(device)
    }

    deinit { close() }
}
