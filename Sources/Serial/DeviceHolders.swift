#if canImport(Glibc)
import Glibc
#endif

/// Which processes hold a device open, found the way `fuser` finds them: by
/// reading every /proc/PID/fd link. Processes of other users stay hidden
/// unless we are root, so the answer may be incomplete, never wrong.
enum DeviceHolders {
    struct Holder: Hashable {
        let pid: Int32
        let command: String
    }

    static func holders(of path: String, excluding descriptor: Int32? = nil) -> [Holder] {
        guard let target = canonical(path), let proc = opendir("/proc") else { return [] }
        defer { closedir(proc) }
        var found: [Holder] = []
        while let entry = readdir(proc) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), holds(pid: pid, target: target, excluding: descriptor) else { continue }
            found.append(Holder(pid: pid, command: command(of: pid)))
        }
        return found.sorted { $0.pid < $1.pid }
    }

    /// "pid 1234 (socat), pid 99 (python3)", or nil when nobody visible holds it.
    static func describe(_ path: String, excluding descriptor: Int32? = nil) -> String? {
        let holders = holders(of: path, excluding: descriptor)
        guard !holders.isEmpty else { return nil }
        return holders.map { "pid \($0.pid) (\($0.command))" }.joined(separator: ", ")
    }

    private static func holds(pid: Int32, target: String, excluding descriptor: Int32?) -> Bool {
        let directory = "/proc/\(pid)/fd"
        guard let fds = opendir(directory) else { return false }
        defer { closedir(fds) }
        while let entry = readdir(fds) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let fd = Int32(name) else { continue }
            if pid == getpid() && fd == descriptor { continue }
            if link(at: "\(directory)/\(name)") == target { return true }
        }
        return false
    }

    private static func command(of pid: Int32) -> String {
        SysfsFile.read("/proc/\(pid)/comm") ?? "?"
    }

    private static func link(at path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
