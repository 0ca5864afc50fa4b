import Foundation

/// A long-running peer (a server, a capture) started for one test: its
/// output is read line by line, and `stop()` closes its standard input, then
/// terminates it if it has not ended, and always reaps it.
public final class PeerProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()
    private let lock = NSLock()
    private var lines: [String] = []
    private var errorText = ""
    private let arrived = DispatchSemaphore(value: 0)

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        read(output.fileHandleForReading, error: false)
        read(errors.fileHandleForReading, error: true)
    }

    /// Reads `handle` to its end on a thread of its own. Not a
    /// `readabilityHandler`: that is a dispatch source, which Foundation lets
    /// go of while the descriptor may still be closed and its number reused
    /// by another test's pipe; libdispatch then crashed now and then
    /// (`_dispatch_event_loop_drain`, a bad pointer) with many peers starting
    /// and stopping at once. The thread keeps the handle, so the descriptor
    /// closes only after its last read.
    private func read(_ handle: FileHandle, error: Bool) {
        let thread = Thread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = Glibc.read(handle.fileDescriptor, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                self?.take(count > 0 ? Data(buffer[0..<count]) : Data(), error: error)
                if count <= 0 { return }
            }
        }
        thread.name = "peer output"
        thread.start()
    }

    private var partial = ""

    private var outputEnded = false

    private func take(_ data: Data, error: Bool) {
        guard !data.isEmpty else {
            if !error {
                lock.lock()
                outputEnded = true
                lock.unlock()
                arrived.signal()
            }
            return
        }
        let text = String(decoding: data, as: UTF8.self)
        lock.lock()
        if error {
            errorText += text
        } else {
            partial += text
            while let newline = partial.firstIndex(of: "\n") {
                lines.append(String(partial[..<newline]))
                partial = String(partial[partial.index(after: newline)...])
            }
        }
        lock.unlock()
        arrived.signal()
    }

    /// Waits for a line of standard output that starts with `prefix`; returns
    /// the rest of it. The line is taken: the next wait finds the next such line.
    public func waitForLine(startingWith prefix: String, timeout: TimeInterval = 20) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            lock.lock()
            let found = lines.firstIndex { $0.hasPrefix(prefix) }.map { lines.remove(at: $0) }
            lock.unlock()
            if let found { return String(found.dropFirst(prefix.count)) }
            guard process.isRunning else {
                throw Peers.Missing(description: "\(process.executableURL!.lastPathComponent) ended: \(standardError)")
            }
            guard Date() < deadline else {
                throw Peers.Missing(description: "no line starting \"\(prefix)\" within \(timeout) s: \(standardError)")
            }
            _ = arrived.wait(timeout: .now() + 0.1)
        }
    }

    /// Writes a line to its standard input.
    public func send(_ line: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Waits for `text` to appear on standard error (tshark reports there).
    public func waitForError(containing text: String, timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !standardError.contains(text) {
            guard Date() < deadline, process.isRunning else {
                throw Peers.Missing(description: "\"\(text)\" not reported: \(standardError)")
            }
            _ = arrived.wait(timeout: .now() + 0.1)
        }
    }

    public var standardError: String {
        lock.lock()
        defer { lock.unlock() }
        return errorText
    }

    public var processIdentifier: Int32 { process.processIdentifier }

    public var isRunning: Bool { process.isRunning }

    /// Everything it wrote to standard output so far, lines not yet taken by
    /// `waitForLine` included (wait until it ended to have all of it).
    public var standardOutput: String {
        process.waitUntilExit()
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            lock.lock()
            let ended = outputEnded
            lock.unlock()
            if ended { break }
            _ = arrived.wait(timeout: .now() + 0.1)
        }
        lock.lock()
        defer { lock.unlock() }
        return (lines + [partial]).joined(separator: "\n")
    }

    /// Ends the peer: `signal` if given, stdin closed, then SIGKILL if it
    /// lingers. A child started from a test thread inherits that thread's
    /// signal mask, in which dispatch blocks SIGTERM, so SIGTERM alone may
    /// never arrive (socat ignored it that way).
    public func stop(signal: Int32? = nil) {
        if let signal, process.isRunning { kill(process.processIdentifier, signal) }
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(signal == nil ? 5 : 3)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// After `stop()`: whether the peer exited by itself (not killed by a signal), and its status.
    public var exitStatus: Int32? { process.terminationReason == .exit ? process.terminationStatus : nil }

    deinit { if process.isRunning { stop() } }
}

/// Runs `body` on a thread of its own. Written when the tests ran on Swift's
/// cooperative pool (a thread per core), where a test blocked in a wait held
/// a thread every other test needed. Under `.ownThreads` a suite's tests run
/// on threads that grow as they block, so a new test's wait needs no `offPool`.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Looks at `condition` every `interval` until it holds; false if it has not
/// within `limit` (generous: a loaded machine may hold a peer's thread for long).
public func eventually(within limit: Duration = .seconds(15), every interval: Duration = .milliseconds(5),
                       _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: interval)
    }
    return true
}

/// A lock on UDP port 2222 across test processes: EIPScanner always listens
/// there, on every address, and of two such processes only the last to bind
/// gets the packets. Each test that runs it holds this while it does.
public final class EIPScannerPort: Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// Waits (off the concurrency pool) until no other test holds it.
    public static func acquire() async throws -> EIPScannerPort {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-eipscanner-2222.lock").path
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw Peers.Missing(description: "\(path): \(String(cString: strerror(errno)))") }
        _ = try await offPool { flock(descriptor, LOCK_EX) }
        return EIPScannerPort(descriptor: descriptor)
    }

    /// Lets the next test have it.
    public func release() { close(descriptor) }
}
