#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Serial
import TestSupport

@Suite(.ownThreads) struct SerialPortTests {
    private func attributes(of port: SerialPort) -> termios {
        var attributes = termios()
        tcgetattr(port.descriptor, &attributes)
        return attributes
    }

    @Test func rawModeClearsEveryCookedFlag() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        let port = try SerialPort(path: pty.path, settings: SerialSettings(parity: .none))
        let flags = attributes(of: port)
        #expect(flags.c_iflag & RawMode.clearedInput == 0)
        #expect(flags.c_oflag & RawMode.clearedOutput == 0)
        #expect(flags.c_lflag & RawMode.clearedLocal == 0)
        #expect(flags.c_cflag & tcflag_t(HUPCL) == 0)
        #expect(flags.c_cflag & RawMode.flags(CLOCAL, CREAD) == RawMode.flags(CLOCAL, CREAD))
        #expect(flags.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS8))
        let controls = withUnsafeBytes(of: flags.c_cc) { ($0[Int(VMIN)], $0[Int(VTIME)]) }
        #expect(controls == (0, 0))
        #expect(fcntl(port.descriptor, F_GETFL) & O_NONBLOCK != 0)
        #expect(fcntl(port.descriptor, F_GETFD) & FD_CLOEXEC != 0)
    }

    /// The kernel's pty forces CS8 and no parity whatever is set (pty_set_termios),
    /// so framing is checked on the attributes we hand to tcsetattr.
    @Test(arguments: [
        (SerialSettings.Parity.none, tcflag_t(0)),
        (.even, tcflag_t(PARENB)),
        (.odd, RawMode.flags(PARENB, PARODD)),
        (.mark, RawMode.flags(PARENB, PARODD, CMSPAR)),
        (.space, RawMode.flags(PARENB, CMSPAR)),
    ])
    func parityFlags(parity: SerialSettings.Parity, expected: tcflag_t) throws {
        var attributes = termios()
        try RawMode.apply(SerialSettings(parity: parity), to: &attributes, path: "test")
        #expect(attributes.c_cflag & RawMode.flags(PARENB, PARODD, CMSPAR) == expected)
        #expect(attributes.c_iflag & tcflag_t(INPCK) == (parity == .none ? 0 : tcflag_t(INPCK)))
    }

    @Test(arguments: [(5, CS5), (6, CS6), (7, CS7), (8, CS8)])
    func dataBitsFlags(bits: Int, size: Int32) throws {
        var attributes = termios()
        try RawMode.apply(SerialSettings(dataBits: bits), to: &attributes, path: "test")
        #expect(attributes.c_cflag & tcflag_t(CSIZE) == tcflag_t(size))
    }

    @Test func framingIsAcceptedByARealPty() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        for parity in SerialSettings.Parity.allCases {
            for bits in 5...8 {
                do {
                    let port = try SerialPort(path: pty.path, settings: SerialSettings(dataBits: bits, parity: parity))
                    #expect(port.settings.parity == parity && port.settings.dataBits == bits)
                } catch {
                    Issue.record("\(parity) \(bits): \(error)")
                }
            }
        }
    }

    @Test func stopBitsAndFlowControlReadBack() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        let port = try SerialPort(path: pty.path, settings: SerialSettings(stopBits: 2, flowControl: .rtsCts))
        #expect(attributes(of: port).c_cflag & tcflag_t(CSTOPB) != 0)
        #expect(attributes(of: port).c_cflag & tcflag_t(CRTSCTS) != 0)
        try port.configure(SerialSettings(flowControl: .xonXoff))
        #expect(attributes(of: port).c_iflag & RawMode.flags(IXON, IXOFF) == RawMode.flags(IXON, IXOFF))
        #expect(attributes(of: port).c_cflag & RawMode.flags(CSTOPB, CRTSCTS) == 0)
    }

    @Test(arguments: [1200, 9600, 19200, 115_200, 250_000, 31_250, 1_000_000])
    func anyBaudRateReadsBack(baud: Int) throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        let port = try SerialPort(path: pty.path, settings: SerialSettings(baud: baud))
        #expect(port.settings.baud == baud)
    }

    @Test func standardRatesUseTheirConstantAndOthersBOTHER() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        let port = try SerialPort(path: pty.path, settings: SerialSettings(baud: 9600))
        var flags = attributes(of: port)
        #expect(cfgetospeed(&flags) == speed_t(B9600))
        try port.configure(SerialSettings(baud: 250_000))
        let bother: tcflag_t = 0o010000  // BOTHER in <asm/termbits.h>: the rate is in c_ospeed
        #expect(attributes(of: port).c_cflag & tcflag_t(CBAUD) == bother)
        #expect(RawMode.standardSpeed(31_250) == nil && RawMode.standardSpeed(115_200) == speed_t(B115200))
    }

    @Test func badSettingsAreRefusedWithAReason() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        #expect(throws: SerialError(.configure, path: pty.path, "data bits must be 5 to 8, not 9")) {
            try SerialPort(path: pty.path, settings: SerialSettings(dataBits: 9))
        }
        #expect(throws: SerialError(.configure, path: pty.path, "stop bits must be 1 or 2, not 3")) {
            try SerialPort(path: pty.path, settings: SerialSettings(stopBits: 3))
        }
    }

    @Test func missingDeviceIsAnOpenError() {
        let error = #expect(throws: SerialError.self) { try SerialPort(path: "/dev/fieldgw-no-such-device") }
        #expect(error?.code == .open)
        #expect(error?.description.contains("No such file") == true)
    }

    @Test func secondOpenerIsRefusedAsBusy() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        let first = try SerialPort(path: pty.path)
        let error = #expect(throws: SerialError.self) { try SerialPort(path: pty.path) }
        #expect(error?.code == .busy || error?.code == .open, "TIOCEXCL answers EBUSY to open itself")
        _ = first
    }

    @Test func writeReachesTheFarSideAndReadGetsItsReply() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        let port = try SerialPort(path: pty.path)
        try port.write([0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD])
        #expect(pty.receive() == [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD])
        pty.send([0x01, 0x03, 0x02, 0x00, 0x2A])
        #expect(try port.read(deadline: .now + .seconds(1)) == [0x01, 0x03, 0x02, 0x00, 0x2A])
    }

    @Test func readTimesOutAtItsDeadline() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        let port = try SerialPort(path: pty.path)
        let start = ContinuousClock.now
        #expect(try port.read(deadline: start + .milliseconds(50)).isEmpty)
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(50) && waited < .milliseconds(500))
    }

    @Test func unplugIsDisconnectedWithinTenMilliseconds() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        let port = try SerialPort(path: pty.path)
        let start = ContinuousClock.now
        pty.close()
        let error = #expect(throws: SerialError.self) { try port.read(deadline: .now + .seconds(5)) }
        #expect(error?.code == .disconnected)
        #expect(ContinuousClock.now - start < .milliseconds(10))
    }

    @Test func flushDiscardsUnreadInput() throws {
        let pty = try PseudoTerminal()
        defer { withExtendedLifetime(pty) {} }  // ARC may end it at its last use; the line must outlive the port
        let port = try SerialPort(path: pty.path)
        pty.send([1, 2, 3])
        usleep(20_000)
        try port.flush(.input)
        #expect(try port.read(deadline: .now + .milliseconds(20)).isEmpty)
    }
}

@Suite(.ownThreads) struct SerialTimingTests {
    @Test func characterTimesFollowTheFraming() {
        let modbus = SerialSettings(baud: 9600)
        #expect(modbus.bitsPerCharacter == 11)
        #expect(modbus.characterTime == .nanoseconds(1_145_833))
        #expect(modbus.t35 == .nanoseconds(1_145_833) * 3.5)
        #expect(SerialSettings(baud: 9600, parity: .none, stopBits: 1).bitsPerCharacter == 10)
    }

    @Test func aboveNineteenTwoHundredTheTimersAreFixed() {
        let fast = SerialSettings(baud: 115_200)
        #expect(fast.t15 == .microseconds(750))
        #expect(fast.t35 == .microseconds(1750))
        #expect(SerialSettings(baud: 19200).t35 == SerialSettings(baud: 19200).characterTime * 3.5)
    }
}
