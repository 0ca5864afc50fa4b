#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import Serial
import TestSupport

/// Each row of the VMIN/VTIME table in ReadMode, proved on a real pty. The far
/// side writes from a dispatch thread while the test blocks in `read()`.
@Suite(.ownThreads) struct ReadModeTests {
    /// Sends each `(delay, bytes)` to the port's side of the line that long after
    /// now, from a thread of its own (the dispatch pool may be busy with blocked
    /// tests) and through a descriptor of its own (the test may end first, and
    /// its pty's number may then belong to another test).
    private func send(_ schedule: [(Duration, [UInt8])], to pty: PseudoTerminal) {
        let controller = dup(pty.controller)
        let start = ContinuousClock.now
        Thread.detachNewThread {
            for (delay, bytes) in schedule {
                let remaining = ContinuousClock.now.duration(to: start + delay)
                if remaining > .zero { usleep(UInt32(remaining / .microseconds(1))) }
                _ = bytes.withUnsafeBytes { Glibc.write(controller, $0.baseAddress, $0.count) }
            }
            Glibc.close(controller)
        }
    }

    private func send(_ bytes: [UInt8], to pty: PseudoTerminal, after delay: Duration) {
        send([(delay, bytes)], to: pty)
    }

    /// Waits until the port's input queue holds at least one byte (a pty hands bytes over on a kernel worker).
    private func waitForInput(_ port: SerialPort) {
        var request = pollfd(fd: port.descriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&request, 1, 2000)
    }

    private func timed<T>(_ body: () throws -> T) rethrows -> (T, Duration) {
        let start = ContinuousClock.now
        let result = try body()
        return (result, ContinuousClock.now - start)
    }

    @Test func modesSetTheControlCharactersAndBlocking() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let port = try SerialPort(path: pty.path)
        try port.setReadMode(.interByte(minimum: 7, tenths: 3))
        var attributes = termios()
        tcgetattr(port.descriptor, &attributes)
        #expect(withUnsafeBytes(of: attributes.c_cc) { ($0[Int(VMIN)], $0[Int(VTIME)]) } == (7, 3))
        #expect(fcntl(port.descriptor, F_GETFL) & O_NONBLOCK == 0)
        try port.configure(SerialSettings(baud: 9600))
        tcgetattr(port.descriptor, &attributes)
        #expect(withUnsafeBytes(of: attributes.c_cc) { ($0[Int(VMIN)], $0[Int(VTIME)]) } == (7, 3), "configure keeps the read mode")
        try port.setReadMode(.deadline)
        #expect(fcntl(port.descriptor, F_GETFL) & O_NONBLOCK != 0)
        #expect(throws: SerialError.self) { try port.read(limit: 8) }
    }

    @Test func immediateReturnsAtOnceWithWhatIsQueued() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let port = try SerialPort(path: pty.path)
        try port.setReadMode(.immediate)
        let (nothing, waited) = try timed { try port.read(limit: 16) }
        #expect(nothing.isEmpty && waited < .milliseconds(50))
        pty.send([1, 2, 3])
        waitForInput(port)
        #expect(try port.read(limit: 16) == [1, 2, 3])
    }

    @Test func countWaitsForThatManyBytesHoweverLong() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let port = try SerialPort(path: pty.path)
        try port.setReadMode(.count(4))
        pty.send([1, 2])
        send([3, 4], to: pty, after: .milliseconds(300))
        let (bytes, waited) = try timed { try port.read(limit: 16) }
        #expect(bytes == [1, 2, 3, 4])
        #expect(waited >= .milliseconds(250), "two bytes were there at once; VMIN=4 waited for the rest")
    }

    @Test func totalTimeoutCountsTenthsFromTheCall() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let port = try SerialPort(path: pty.path)
        try port.setReadMode(.total(tenths: 2))
        let (nothing, waited) = try timed { try port.read(limit: 16) }
        #expect(nothing.isEmpty)
        #expect(waited >= .milliseconds(180) && waited < .milliseconds(700), "VTIME=2 is 200 ms: \(waited)")
        send([9], to: pty, after: .milliseconds(50))
        let (bytes, early) = try timed { try port.read(limit: 16) }
        #expect(bytes == [9])
        #expect(early < .milliseconds(180), "the first byte ends the wait: \(early)")
    }

    @Test func interByteTimerStartsOnlyAfterAFirstByte() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let port = try SerialPort(path: pty.path)
        try port.setReadMode(.interByte(minimum: 4, tenths: 1))
        // Nothing for 400 ms (four times VTIME), then one byte, then silence.
        send([7], to: pty, after: .milliseconds(400))
        let (bytes, waited) = try timed { try port.read(limit: 16) }
        #expect(bytes == [7])
        #expect(waited >= .milliseconds(450), "blocked until a first byte, then 100 ms of silence: \(waited)")
    }

    @Test func interByteReturnsAtMinimumWhenGapsAreShort() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let port = try SerialPort(path: pty.path)
        try port.setReadMode(.interByte(minimum: 4, tenths: 5))
        send((0..<6).map { (.milliseconds(30 * $0), [UInt8($0)]) }, to: pty)
        let (bytes, waited) = try timed { try port.read(limit: 16) }
        #expect(bytes == [0, 1, 2, 3], "VMIN=4 reached before any 500 ms gap")
        #expect(waited < .milliseconds(450))
    }

    @Test func blockedKernelReadSeesAnUnplug() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        // The port lives and blocks on a thread of its own; the pty is closed here, by its owner.
        let outcome = Outcome()
        let path = pty.path
        Thread.detachNewThread {
            do throws(SerialError) {
                let port = try SerialPort(path: path)
                try port.setReadMode(.count(1))
                outcome.opened.signal()
                _ = try port.read(limit: 16)
                outcome.finish(nil)
            } catch {
                outcome.opened.signal()
                outcome.finish(error)
            }
        }
        #expect(outcome.opened.wait(timeout: .now() + 5) == .success)
        usleep(50_000)
        pty.close()
        #expect(outcome.wait()?.code == .disconnected)
    }
}

/// The error a blocked read ended with, handed from its thread to the test.
private final class Outcome: @unchecked Sendable {
    let opened = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private var error: SerialError?

    func finish(_ error: SerialError?) {
        self.error = error
        done.signal()
    }

    func wait() -> SerialError? {
        _ = done.wait(timeout: .now() + 5)
        return error
    }
}
