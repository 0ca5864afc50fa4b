#if canImport(Glibc)
import Glibc
#endif
import CSerialShim

extension SerialPort {
    /// The driver's RS485 settings (TIOCGRS485).
    public func rs485() throws(SerialError) -> RS485Settings {
        var kernel = fgw_rs485()
        guard fgw_get_rs485(descriptor, &kernel) == 0 else { throw .system(.configure, path: path, "TIOCGRS485 (RS485)") }
        return RS485Settings(kernel)
    }

    /// Applies RS485 direction control and returns what the driver kept (it
    /// clamps delays and may refuse flags).
    @discardableResult
    public func setRS485(_ settings: RS485Settings) throws(SerialError) -> RS485Settings {
        var kernel = settings.kernel
        guard fgw_set_rs485(descriptor, &kernel) == 0 else { throw .system(.configure, path: path, "TIOCSRS485 (RS485)") }
        return try rs485()
    }

    /// Whether the driver hands received bytes on at once (ASYNC_LOW_LATENCY).
    public func lowLatency() throws(SerialError) -> Bool {
        let state = fgw_get_low_latency(descriptor)
        guard state >= 0 else { throw .system(.configure, path: path, "TIOCGSERIAL (low latency)") }
        return state == 1
    }

    /// Asks the driver to hand received bytes on at once rather than batching them.
    public func setLowLatency(_ enabled: Bool) throws(SerialError) {
        guard fgw_set_low_latency(descriptor, enabled ? 1 : 0) == 0 else {
            throw .system(.configure, path: path, "TIOCSSERIAL (low latency)")
        }
    }

    /// The sysfs file of an FTDI adapter's receive latency timer, if the device has one.
    public var latencyTimerPath: String? {
        guard let name = deviceName else { return nil }
        let file = "/sys/class/tty/\(name)/device/latency_timer"
        return access(file, F_OK) == 0 ? file : nil
    }

    /// The FTDI latency timer in milliseconds (default 16; 1 for Modbus).
    public func latencyTimer() throws(SerialError) -> Int {
        let file = try latencyTimerFile()
        guard let text = SysfsFile.read(file), let value = Int(text) else {
            throw .system(.configure, path: path, "read \(file)")
        }
        return value
    }

    /// Sets the FTDI latency timer (1–255 ms). Writing sysfs needs root or a udev
    /// rule (udev/60-fieldgw.rules sets 1 at plug-in).
    public func setLatencyTimer(milliseconds: Int) throws(SerialError) {
        guard (1...255).contains(milliseconds) else {
            throw SerialError(.configure, path: path, "latency timer must be 1 to 255 ms, not \(milliseconds)")
        }
        let file = try latencyTimerFile()
        guard SysfsFile.write(file, "\(milliseconds)") else { throw .system(.configure, path: path, "write \(file)") }
        let readBack = try latencyTimer()
        guard readBack == milliseconds else {
            throw SerialError(.configure, path: path, "latency timer \(milliseconds) ms read back as \(readBack)")
        }
    }

    private func latencyTimerFile() throws(SerialError) -> String {
        guard let file = latencyTimerPath else {
            throw SerialError(.unsupported, path: path, "no latency_timer in sysfs: only FTDI adapters have one")
        }
        return file
    }

    /// The kernel's name for the device (ttyUSB0), following symlinks such as /dev/serial/by-id.
    var deviceName: String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        let full = String(cString: resolved)
        guard full.hasPrefix("/dev/"), let slash = full.lastIndex(of: "/") else { return nil }
        return String(full[full.index(after: slash)...])
    }
}

/// Small sysfs attribute files, read and written whole.
enum SysfsFile {
    static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count >= 0 else { return nil }
        let text = String(decoding: bytes[0..<count], as: UTF8.self)
        return String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    static func write(_ path: String, _ text: String) -> Bool {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) } == bytes.count
    }
}

extension SerialPort {
    /// Makes the calling thread's timed waits end on time: Linux lets a
    /// thread's waits end up to 50 µs late (its timer slack) unless told,
    /// which a thread that times t3.5 silences would add to every transaction.
    public static func usePreciseTimers() {
        _ = fgw_precise_timers()
    }
}
