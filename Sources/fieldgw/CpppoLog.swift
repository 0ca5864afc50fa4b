import Foundation

/// Log lines as cpppo's tools write them (`-v` for more, `-l FILE` for a
/// file instead of stderr): `11-30 07:51:38.371 MainThread enip.cli NORMAL
/// main       Client Tag I/O  Average  65.001 TPS (  0.015s ea).`
/// Warnings always; NORMAL lines with `-v`.
struct CpppoLog {
    /// cpppo's levels, in its order.
    enum Level: Int, Comparable {
        case normal = 0, warning

        var name: String {
            switch self {
            case .normal: "NORMAL"
            case .warning: "WARNING"
            }
        }

        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// Lines at this level or above are written.
    let threshold: Level
    /// cpppo's logger name: "enip.cli", "enip.srv", "enip.get".
    let logger: String
    private let file: FileHandle

    /// `verbose` is the count of `-v`; `path` is `-l FILE`, appended to.
    init(verbose: Int, path: String?, logger: String) throws {
        threshold = verbose > 0 ? .normal : .warning
        self.logger = logger
        guard let path else {
            file = .standardError
            return
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CommandFailure("--log: cannot write \(path): \(String(cString: strerror(errno)))", status: CommandFailure.configuration) }
        file = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Writes `message` from `function` when `level` is at the threshold or above.
    func write(_ level: Level, _ function: String, _ message: String) {
        guard level >= threshold else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec, parts = tm()
        localtime_r(&seconds, &parts)
        let stamp = String(format: "%02d-%02d %02d:%02d:%02d.%03d", parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                           Int(now.tv_nsec / 1_000_000))
        let line = "\(stamp) MainThread \(Self.fit(logger, 8)) \(Self.fit(level.name, 8)) \(Self.fit(function, 10)) \(message)\n"
        file.write(Data(line.utf8))
    }

    /// Python's `%-N.Ns`: cut to `width`, padded to it.
    private static func fit(_ text: String, _ width: Int) -> String {
        let cut = String(text.prefix(width))
        return cut + String(repeating: " ", count: width - cut.count)
    }

    /// Python's `time.ctime()`: `Mon Nov 30 07:55:13 2026`.
    static func ctime(_ date: Date = Date()) -> String {
        var seconds = time_t(date.timeIntervalSince1970), parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a %b %e %H:%M:%S %Y", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
