import Foundation

/// Real peers installed by `make test`. A missing peer fails the test that needs it.
public enum Peers {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Python of the project's virtual environment (FIELDGW_PYTHON, or .build/venv).
    public static func python() throws -> String {
        try environment("FIELDGW_PYTHON", ".build/venv", what: "Python peer")
    }

    /// cpppo's Python: a virtual environment of its own (FIELDGW_CPPPO_PYTHON,
    /// or .build/venv-cpppo), as cpppo pins a greenery older than ours.
    public static func cpppoPython() throws -> String {
        try environment("FIELDGW_CPPPO_PYTHON", ".build/venv-cpppo", what: "cpppo")
    }

    /// The Sparkplug host's Python (.build/venv-sparkplug): pysparkplug pins a paho-mqtt older than ours.
    public static func sparkplugPython() throws -> String {
        try environment("FIELDGW_SPARKPLUG_PYTHON", ".build/venv-sparkplug", what: "Sparkplug host")
    }

    /// The Python of a virtual environment: `variable` if set, else `directory` under the package.
    private static func environment(_ variable: String, _ directory: String, what: String) throws -> String {
        let path = ProcessInfo.processInfo.environment[variable] ?? packageRoot.appendingPathComponent("\(directory)/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "no \(what) environment at \(path): run `make test`, which installs it")
        }
        return path
    }

    /// A TCP port free on 127.0.0.1 now, for a peer that cannot be told to
    /// pick one and report it (cpppo's server).
    public static func freePort() throws -> Int {
        try ReservedPort().port
    }

    /// A loopback port held bound but not listening: a connection to it is
    /// refused, as to a device that is not there yet, and no other test's
    /// port-0 server can be given it until `release()` (a port that
    /// `freePort()` found may be taken meanwhile).
    public final class ReservedPort: @unchecked Sendable {
        public let port: Int
        private var descriptor: Int32

        /// Bound at once; let go by `release()` or when it is dropped.
        public init() throws {
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { [descriptor] in
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
            }
            guard bound else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw Missing(description: "no free port: \(reason)")
            }
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        /// Lets the port go, for the server that is to take it next.
        public func release() {
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
        }

        deinit { release() }
    }

    /// Finds a program on PATH.
    public static func program(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Missing(description: "\(name) is not installed: run `make test`, which installs it")
    }

    /// A peer that `make test` builds from source into .build/peers (the libmodbus server).
    public static func built(_ name: String) throws -> String {
        let path = packageRoot.appendingPathComponent(".build/peers/\(name)").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "\(path) is not built: run `make test`, which builds it")
        }
        return path
    }

    public struct Output: Sendable {
        public let status: Int32
        public let stdout: Data
        public let stderr: String

        public var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// A new, empty directory of its own under the temporary directory
    /// ("fieldgw-NAME-UUID"); the caller removes it.
    public static func scratchDirectory(_ name: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Runs a program to completion with `input` on its standard input.
    public static func run(_ executable: String, _ arguments: [String], input: Data = Data()) throws -> Output {
        let directory = try scratchDirectory("run")
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputFile = directory.appendingPathComponent("stdin")
        let errorFile = directory.appendingPathComponent("stderr")
        try input.write(to: inputFile)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = try FileHandle(forReadingFrom: inputFile)
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        return Output(status: process.terminationStatus, stdout: data, stderr: errors)
    }

    /// The fieldgw binary built beside the test bundle (`make test` builds it first).
    public static func fieldgw() throws -> String {
        let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let binary = directory.appendingPathComponent("fieldgw").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw Missing(description: "\(binary) is not built: `make test` builds it first")
        }
        return binary
    }
}
