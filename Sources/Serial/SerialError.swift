#if canImport(Glibc)
import Glibc
#endif

/// A serial line that could not do what was asked: which device, what, and why.
public struct SerialError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure it was.
    public enum Code: String, Sendable {
        /// The device could not be opened.
        case open
        /// Another process holds the device.
        case busy
        /// A setting was refused, or read back different from what was set.
        case configure
        /// The driver does not support the operation (ENOTTY).
        case unsupported
        /// The device went away (unplugged, or its other end closed).
        case disconnected
        /// A read or write failed.
        case io
    }

    /// The kind of failure, for callers that react to it (a `.disconnected` line
    /// is reopened, a `.busy` one is reported with its holder).
    public let code: Code
    /// The device path, or `host:port` for a socket.
    public let path: String
    /// What was being done and what went wrong, for people.
    public let detail: String

    /// An error of `code` on the device at `path`.
    public init(_ code: Code, path: String, _ detail: String) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    /// An error for a failed system call, with errno's text.
    static func system(_ code: Code, path: String, _ call: String, errno number: Int32 = errno) -> SerialError {
        let reason = String(cString: strerror(number))
        if number == ENOTTY { return SerialError(.unsupported, path: path, "\(call): the driver does not support it (\(reason))") }
        return SerialError(code, path: path, "\(call): \(reason)")
    }

    /// The path, the code and the detail: "/dev/ttyUSB0: busy: in use by ...".
    public var description: String { "\(path): \(code.rawValue): \(detail)" }
}
