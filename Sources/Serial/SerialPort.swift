#if canImport(Glibc)
import Glibc
#endif
import CSerialShim

/// A serial device opened for the gateway: raw, non-blocking, exclusive.
///
/// The descriptor is opened `O_NOCTTY | O_NONBLOCK | O_CLOEXEC` with VMIN=0,
/// VTIME=0; reads wait with `ppoll` against a deadline, to the microsecond.
/// One owner uses a port at a time (a `Bus` on its own thread).
public final class SerialPort {
    /// The device path, or `host:port` for a device server connection.
    public let path: String
    /// The settings last applied by ``SerialPort/configure(_:)``.
    public private(set) var settings: SerialSettings
    /// How reads wait; changed only through ``SerialPort/setReadMode(_:)``.
    public internal(set) var readMode: ReadMode = .deadline
    /// The open descriptor, closed when the port is released.
    public let descriptor: Int32
    /// A TCP connection carrying the line's bytes (a serial device server),
    /// not a tty: no termios, no lock; `settings` only time the frames.
    public let isSocket: Bool

    /// Opens and configures `path`; another opener gets `.busy`.
    public init(path: String, settings: SerialSettings = SerialSettings()) throws(SerialError) {
        self.path = path
        self.settings = settings
        isSocket = false
        descriptor = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            // TIOCEXCL held by another process refuses the open itself with EBUSY.
            if errno == EBUSY { throw SerialError(.busy, path: path, Self.inUse(path, descriptor: nil)) }
            throw .system(.open, path: path, "open")
        }
        // Every stored property is set, so a throw from here runs deinit, which
        // closes the descriptor (closing it here too would close a number that
        // another thread may already have reused).
        try lockExclusively()
        try configure(settings)
    }

    /// A connected socket as the port (see `init(connectingTo:port:settings:timeout:)`).
    init(socket: Int32, name: String, settings: SerialSettings) {
        path = name
        self.settings = settings
        isSocket = true
        descriptor = socket
    }

    deinit { Glibc.close(descriptor) }

    /// flock for cooperating processes, TIOCEXCL against every other opener.
    private func lockExclusively() throws(SerialError) {
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            throw SerialError(.busy, path: path, Self.inUse(path, descriptor: descriptor))
        }
        if ioctl(descriptor, UInt(TIOCEXCL)) != 0 { throw .system(.configure, path: path, "TIOCEXCL") }
    }

    private static func inUse(_ path: String, descriptor: Int32?) -> String {
        if let holders = DeviceHolders.describe(path, excluding: descriptor) { return "in use by \(holders)" }
        return "in use by another process (not visible to this user; try `fuser \(path)` as root)"
    }

    /// Applies `settings`: raw mode, framing, flow control, then the speed,
    /// which is read back; a mismatch is an error.
    public func configure(_ settings: SerialSettings) throws(SerialError) {
        guard !isSocket else { return self.settings = settings }
        var attributes = termios()
        guard tcgetattr(descriptor, &attributes) == 0 else { throw .system(.configure, path: path, "tcgetattr") }
        try RawMode.apply(settings, readMode: readMode, to: &attributes, path: path)
        // A standard rate goes in with the rest, as every driver knows it; any
        // other rate through termios2/BOTHER, after.
        let standard = RawMode.standardSpeed(settings.baud)
        if let standard { cfsetspeed(&attributes, standard) }
        // TCSETS itself, not glibc's tcsetattr: that one reads the settings back and
        // fails with EINVAL when a driver adjusts the framing (a pty forces CS8 and
        // no parity), after having applied everything else.
        guard ioctl(descriptor, UInt(TCSETS), &attributes) == 0 else { throw .system(.configure, path: path, "TCSETS") }
        if standard == nil {
            guard fgw_set_speed(descriptor, UInt32(settings.baud)) == 0 else { throw .system(.configure, path: path, "set speed \(settings.baud)") }
        }
        var input: UInt32 = 0
        var output: UInt32 = 0
        guard fgw_get_speed(descriptor, &input, &output) == 0 else { throw .system(.configure, path: path, "read speed") }
        guard input == settings.baud, output == settings.baud else {
            throw SerialError(.configure, path: path, "speed \(settings.baud) baud read back as \(input)/\(output)")
        }
        self.settings = settings
    }

    /// Reads what arrives before `deadline` into `buffer`; returns the count
    /// (0 when the deadline passed in silence). An unplugged device is
    /// `.disconnected` at once, never a timeout.
    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant) throws(SerialError) -> Int {
        guard readMode == .deadline else {
            throw SerialError(.configure, path: path, "a deadline read needs ReadMode.deadline, not \(readMode)")
        }
        // With VMIN=0/VTIME=0 a tty's read answers 0 when nothing is queued, so
        // readiness comes from ppoll first; a 0 after it said readable is a hang-up.
        while try wait(for: Int16(POLLIN), until: deadline) {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count > 0 { return count }
            if count == 0 { throw SerialError(.disconnected, path: path, "read found the line hung up") }
            if errno == EIO || errno == ENXIO || errno == ENODEV { throw .system(.disconnected, path: path, "read") }
            guard errno == EAGAIN || errno == EINTR else { throw .system(.io, path: path, "read") }
        }
        return 0
    }

    /// Reads into a new array (at most `limit` bytes) before `deadline`.
    public func read(limit: Int = 512, deadline: ContinuousClock.Instant) throws(SerialError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: limit)
        // withUnsafeMutableBytes rethrows untyped errors; a Result keeps the type.
        let count = try bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(SerialError) -> Int in try read(into: buffer, deadline: deadline) }
        }.get()
        return Array(bytes[0..<count])
    }

    /// Reads and drops whatever comes for `duration` (a broadcast's turnaround,
    /// in which no reply is due and anything heard is another's).
    public func readAway(for duration: Duration) throws(SerialError) {
        var scratch = [UInt8](repeating: 0, count: 256)
        let until = ContinuousClock.now + duration
        while ContinuousClock.now < until {
            _ = try scratch.withUnsafeMutableBytes { buffer in
                Result { () throws(SerialError) -> Int in try read(into: buffer, deadline: until) }
            }.get()
        }
    }

    /// Writes every byte (looping over partial writes), then waits until they are on the wire.
    public func write(_ bytes: [UInt8]) throws(SerialError) {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if count > 0 {
                written += count
            } else if errno == EAGAIN || errno == EINTR {
                guard try wait(for: Int16(POLLOUT), until: .now + .seconds(5)) else {
                    throw SerialError(.io, path: path, "write: the line took no data for 5 s (held by flow control?)")
                }
            } else if errno == EIO || errno == ENXIO || errno == ENODEV {
                throw .system(.disconnected, path: path, "write")
            } else {
                throw .system(.io, path: path, "write")
            }
        }
        guard isSocket || tcdrain(descriptor) == 0 else { throw .system(.io, path: path, "tcdrain") }
    }

    /// Which of the driver's queues ``SerialPort/flush(_:)`` empties: received
    /// and unread, written and unsent, or both.
    public enum Queue: Sendable { case input, output, both }

    /// Discards what is queued and unread, or written and unsent.
    public func flush(_ queue: Queue = .both) throws(SerialError) {
        guard !isSocket else { return try discardPendingInput(queue) }
        let which: Int32 = switch queue {
        case .input: TCIFLUSH
        case .output: TCOFLUSH
        case .both: TCIOFLUSH
        }
        guard tcflush(descriptor, which) == 0 else { throw .system(.io, path: path, "tcflush") }
    }

    /// Waits for `events` until `deadline`; false on timeout. A hang-up is `.disconnected`.
    private func wait(for events: Int16, until deadline: ContinuousClock.Instant) throws(SerialError) -> Bool {
        let remaining = max(.zero, ContinuousClock.now.duration(to: deadline))
        let (seconds, attoseconds) = remaining.components
        var revents: Int16 = 0
        let ready = fgw_wait(descriptor, events, seconds * 1_000_000_000 + attoseconds / 1_000_000_000, &revents)
        if ready < 0 {
            if errno == EINTR { return true }
            throw .system(.io, path: path, "ppoll")
        }
        if revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 && revents & events == 0 {
            throw SerialError(.disconnected, path: path, "the device hung up")
        }
        return ready > 0
    }
}
