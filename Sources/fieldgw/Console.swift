import ArgumentParser
import Foundation
import Gateway

/// What every command shares: lines on stdout, addresses from options, and
/// a listener's start-up failure as an exit status.
enum Console {
    /// A line on stdout at once, unbuffered: scripts wait for it to know the port.
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// `option`'s "HOST:PORT", ":PORT" (every interface, or loopback when
    /// `loopback`) or "HOST" (port `defaultPort`), read as the configuration
    /// reads a bind (`Endpoint`).
    static func endpoint(_ text: String, option: String = "--address", defaultPort: Int = 502, loopback: Bool = false) throws -> (String, Int) {
        guard let (host, port) = Endpoint.parse(text, defaultPort: defaultPort, anyHost: loopback ? "127.0.0.1" : "0.0.0.0") else {
            throw ValidationError("\(option): \"\(text)\" has no port number from 0 to 65535 after the colon")
        }
        return (host, port)
    }

    /// `--threads` of a server command: 1 to 256.
    static func checkThreads(_ threads: Int) throws {
        guard (1...256).contains(threads) else { throw ValidationError("--threads: \(threads) is not 1 to 256") }
    }

    /// Starts a listener; a port that cannot be had exits 69 (EX_UNAVAILABLE) naming it.
    static func listening<T>(_ what: String, _ host: String, _ port: Int, _ start: () async throws -> T) async throws -> T {
        do {
            return try await GatewayService.listening(what, host, port, start)
        } catch {
            throw CommandFailure("\(error)", status: CommandFailure.unavailable)
        }
    }
}
