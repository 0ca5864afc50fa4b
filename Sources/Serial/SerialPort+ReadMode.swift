#if canImport(Glibc)
import Glibc
#endif

extension SerialPort {
    /// Switches between the deadline mode and the kernel's VMIN/VTIME modes.
    /// The kernel modes make the descriptor blocking, as they mean nothing otherwise.
    public func setReadMode(_ mode: ReadMode) throws(SerialError) {
        var attributes = termios()
        guard tcgetattr(descriptor, &attributes) == 0 else { throw .system(.configure, path: path, "tcgetattr") }
        let (minimum, tenths) = mode.controlCharacters
        withUnsafeMutableBytes(of: &attributes.c_cc) { controls in
            controls[Int(VMIN)] = minimum
            controls[Int(VTIME)] = tenths
        }
        guard ioctl(descriptor, UInt(TCSETS), &attributes) == 0 else { throw .system(.configure, path: path, "TCSETS") }
        let flags = fcntl(descriptor, F_GETFL)
        let wanted = mode == .deadline ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        guard flags >= 0, fcntl(descriptor, F_SETFL, wanted) == 0 else { throw .system(.configure, path: path, "fcntl O_NONBLOCK") }
        readMode = mode
    }

    /// One blocking `read()` under a kernel mode: returns as the mode's row of the
    /// table in `ReadMode` says. 0 means the VTIME timer ran out (or VMIN=0 found
    /// nothing); a hung-up line is `.disconnected`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SerialError) -> Int {
        guard case .kernel = readMode else {
            throw SerialError(.configure, path: path, "a read without a deadline needs a kernel ReadMode")
        }
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count > 0 { return count }
            if count == 0 {
                // A timeout and a hang-up both read 0: only poll tells them apart.
                var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                if poll(&request, 1, 0) > 0 && request.revents & Int16(POLLHUP | POLLERR) != 0 {
                    throw SerialError(.disconnected, path: path, "read found the line hung up")
                }
                return 0
            }
            if errno == EINTR { continue }
            if errno == EIO || errno == ENXIO || errno == ENODEV { throw .system(.disconnected, path: path, "read") }
            throw .system(.io, path: path, "read")
        }
    }

    /// A blocking read under a kernel mode into a new array of at most `limit` bytes.
    public func read(limit: Int = 512) throws(SerialError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: limit)
        let count = try bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(SerialError) -> Int in try read(into: buffer) }
        }.get()
        return Array(bytes[0..<count])
    }
}
