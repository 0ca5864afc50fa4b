import ArgumentParser
import Foundation

/// A command that fails at run time says why in one line on standard error
/// and exits with a status from sysexits(3). The usage screen is for mistakes
/// in the arguments only: after a bad configuration file or a port in use it
/// would bury the one line that matters.
struct CommandFailure: Error {
    /// EX_CONFIG: the configuration file is wrong.
    static let configuration: Int32 = 78
    /// EX_UNAVAILABLE: a port or device the command needs is not to be had.
    static let unavailable: Int32 = 69

    let message: String
    let status: Int32

    init(_ message: String, status: Int32 = EXIT_FAILURE) {
        self.message = message
        self.status = status
    }

    /// Runs `body`; any error (not only a CommandFailure) is reported as above, with exit status 1.
    static func reportingAny(_ command: String, _ body: () async throws -> Void) async throws {
        try await reporting(command) {
            do { try await body() } catch let failure as CommandFailure { throw failure } catch { throw CommandFailure("\(error)") }
        }
    }

    /// Runs `body`; a failure is reported as above and becomes the exit status.
    static func reporting(_ command: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("fieldgw \(command): \(failure.message)\n".utf8))
            throw ExitCode(failure.status)
        }
    }

    /// Runs `body`; a failure is reported as above and becomes the exit status.
    static func reporting(_ command: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("fieldgw \(command): \(failure.message)\n".utf8))
            throw ExitCode(failure.status)
        }
    }
}
