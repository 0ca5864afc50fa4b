#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import Serial
import TestSupport

/// Settings a pty's driver does not have must say so (.unsupported), never pass in silence.
@Suite(.ownThreads) struct SerialTuningTests {
    @Test func ptyHasNoModemLinesAndSaysSo() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let port = try SerialPort(path: pty.path)
        #expect(throws: SerialError.self) { try port.modemLines() }
        let error = #expect(throws: SerialError.self) { try port.setModemLines(rts: true) }
        #expect(error?.code == .unsupported)
        #expect(error?.detail.contains("raise RTS") == true)
    }

    @Test func modemLinesPrintTheirNames() {
        #expect(ModemLines([.rts, .cts, .carrierDetect]).description == "RTS CTS CD")
        #expect(ModemLines().description == "none")
        #expect(ModemLines.dtr.rawValue == TIOCM_DTR)
    }

    @Test func rs485OnAPtyIsUnsupported() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let port = try SerialPort(path: pty.path)
        let error = #expect(throws: SerialError.self) { try port.setRS485(RS485Settings(delayBeforeSend: 2)) }
        #expect(error?.code == .unsupported)
        #expect(error?.detail.contains("TIOCSRS485") == true)
    }

    @Test func rs485SettingsMapToTheKernelFlags() {
        let settings = RS485Settings(enabled: true, rtsOnSend: false, rtsAfterSend: true, receiveDuringTransmit: true,
                                     delayBeforeSend: 3, delayAfterSend: 400)
        let kernel = settings.kernel
        #expect(kernel.enabled == 1 && kernel.rts_on_send == 0 && kernel.rts_after_send == 1 && kernel.receive_during_transmit == 1)
        #expect(kernel.delay_before_send_ms == 3 && kernel.delay_after_send_ms == 400)
        #expect(RS485Settings(kernel) == settings)
    }

    @Test func lowLatencyOnAPtyIsUnsupported() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let port = try SerialPort(path: pty.path)
        let error = #expect(throws: SerialError.self) { try port.setLowLatency(true) }
        #expect(error?.code == .unsupported)
    }

    @Test func latencyTimerNeedsAnFTDIAdapter() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let port = try SerialPort(path: pty.path)
        #expect(port.latencyTimerPath == nil)
        let error = #expect(throws: SerialError.self) { try port.setLatencyTimer(milliseconds: 1) }
        #expect(error?.code == .unsupported)
        let range = #expect(throws: SerialError.self) { try port.setLatencyTimer(milliseconds: 0) }
        #expect(range?.code == .configure)
    }

    @Test func busyNamesTheHolderInThisProcess() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let first = try SerialPort(path: pty.path)
        let error = #expect(throws: SerialError.self) { try SerialPort(path: pty.path) }
        #expect(error?.code == .busy)
        #expect(error?.detail.contains("pid \(getpid())") == true, "\(String(describing: error))")
        withExtendedLifetime(first) {}
    }

    @Test func busyNamesAnotherProcessHoldingTheLock() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }
        let holder = Process()
        // The shell takes the lock on its fd 3, then becomes sleep: one process to name and to kill.
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        holder.arguments = ["-c", "exec 3<>\"$0\"; flock --exclusive 3; exec sleep 30", pty.path]
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        // The lock is taken before `exec sleep`: until the holder's name is "sleep", the error would
        // name sh and flock instead, so wait for the exec rather than for the lock.
        for _ in 0..<500 where (try? String(contentsOfFile: "/proc/\(holder.processIdentifier)/comm", encoding: .utf8)) != "sleep\n" {
            usleep(10_000)
        }
        var error: SerialError?
        do { _ = try SerialPort(path: pty.path) } catch let failure { error = failure }
        #expect(error?.code == .busy)
        #expect(error?.detail.contains("pid \(holder.processIdentifier) (sleep)") == true, "\(String(describing: error))")
    }
}
