import Foundation
import Testing

/// A seeded generator, so that a random test that fails fails again the same way.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Real peers installed by `make test`. A missing peer fails the test that needs it.
enum Peers {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Python of the project's virtual environment (FIELDGW_PYTHON, or .build/venv).
    static func python() throws -> String {
        let path = ProcessInfo.processInfo.environment["FIELDGW_PYTHON"]
            ?? packageRoot.appendingPathComponent(".build/venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "no Python peer environment at \(path): run `make test`, which installs it")
        }
        return path
    }

    /// Finds a program on PATH.
    static func program(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Missing(description: "\(name) is not installed: run `make test`, which installs it")
    }

    struct Output {
        let status: Int32
        let stdout: Data
        let stderr: String
    }

    /// Runs a program to completion with `input` on its standard input.
    static func run(_ executable: String, _ arguments: [String], input: Data = Data()) throws -> Output {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
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
}
