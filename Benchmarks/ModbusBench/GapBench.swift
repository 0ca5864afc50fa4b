// The silence the gateway leaves on a line between a slave's reply and its
// next request, beyond the spec's t3.5: measured by the paced bus's carrier
// (which sees every byte and its time), and on a bare pty by the slave.
import CSerialShim
import Foundation
import Gateway
import Logging
import Modbus
import Serial

/// p50, p99 and max of the master's silences beyond t3.5 (µs), and how many
/// there were: those before end 0 (the master) after another end spoke;
/// and the slaves' turnaround beyond t3.5 (the harness's, "slave_" figures).
func gapFigures(_ silences: [VirtualBus.Silence], t35: Duration) -> [String: Any] {
    var figures = excessFigures(silences.filter { $0.before == 0 && $0.after != 0 }.map { microseconds($0.idle - t35) })
    let turnarounds = silences.filter { $0.before != 0 && $0.after == 0 }.map { microseconds($0.idle - t35) }
    figures.merge(excessFigures(turnarounds, prefix: "slave_gap")) { $1 }
    return figures
}

func excessFigures(_ excess: [Double], prefix: String = "gap") -> [String: Any] {
    guard !excess.isEmpty else { return ["\(prefix)_count": 0] }
    return ["\(prefix)_count": excess.count, "\(prefix)_p50_us": percentile(excess, 0.5), "\(prefix)_p99_us": percentile(excess, 0.99),
            "\(prefix)_max_us": excess.max()!, "\(prefix)_min_us": excess.min()!]
}

/// The gateway's line on a bare pty (no carrier, no pacing) for `seconds`,
/// four requests always waiting; the slave is this thread's loop on the pty's
/// controller, which answers each request at once and times, from its side,
/// the silence between the end of its reply (as its write began) and the
/// first byte of the next request.
func ptyGapBench(seconds: Double) async throws {
    let terminal = try PseudoTerminal()
    let settings = SerialSettings(baud: 115200, parity: .none)
    let bus = Bus(name: "pty", port: try SerialPort(path: terminal.path, settings: settings), logger: Logger(label: "bench"))
    let request = Request.readHoldingRegisters(address: 0, count: 10)
    let replyPDU = Response.registers(Array(0..<10)).pdu(for: request)
    let tally = Tally(bus: bus, pdu: request.pdu, expected: replyPDU)
    let (controller, gaps) = (terminal.controller, GapBox())
    let reply = RTUFrame.encode(unit: 1, pdu: replyPDU)
    Thread { answer(controller, frameLength: request.pdu.count + 3, reply: reply, for: seconds, into: gaps) }.start()
    for _ in 0..<4 { tally.next() }
    try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    let (count, wrong) = tally.stop()
    await bus.close()
    withExtendedLifetime(terminal) {}
    var fields = excessFigures(gaps.value.map { $0 - microseconds(settings.t35) })
    fields.merge(["bench": "pty", "baud": 115200, "transactions": count, "wrong": wrong]) { $1 }
    report(fields)
}

/// Where the slave thread leaves its gaps (µs from its reply to the next
/// request), read once the clients have stopped and no request comes.
final class GapBox: @unchecked Sendable {
    var value: [Double] = []
}

/// The pty slave's loop: reads each request (`frameLength` bytes), writes
/// `reply`, and logs in `box` the time from that write's start to the next request's first byte.
func answer(_ descriptor: Int32, frameLength: Int, reply: [UInt8], for seconds: Double, into box: GapBox) {
    SerialPort.usePreciseTimers()
    var buffer = [UInt8](repeating: 0, count: 256)
    var held = 0
    var replied: ContinuousClock.Instant?
    // Past the clients' last request, so that none of theirs times out.
    let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000) + 500)
    while ContinuousClock.now < end {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard fgw_wait_many(&request, 1, 100_000_000) > 0 else { continue }
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + held, $0.count - held) }
        guard count > 0 else { continue }
        if held == 0, let replied { box.value.append(microseconds(ContinuousClock.now - replied)) }
        held += count
        guard held >= frameLength else { continue }
        held = 0
        // Stamped before the write: a preemption after it must not shorten the gap.
        replied = .now
        _ = reply.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}

/// The median round trip of one byte through a pty and back (µs), with the
/// threads set as the line's are (1 ns timer slack): the harness's share of
/// a silence measured on the paced bus, which holds one such round trip (the
/// reply's last byte to the master, the request's first to the carrier).
func ptyRoundTrip(count: Int = 2000) throws -> Double {
    let terminal = try PseudoTerminal()
    let port = try SerialPort(path: terminal.path, settings: SerialSettings(baud: 115200, parity: .none))
    let controller = terminal.controller
    let echo = Thread {
        SerialPort.usePreciseTimers()
        var byte: UInt8 = 0
        for _ in 0..<count {
            var request = pollfd(fd: controller, events: Int16(POLLIN), revents: 0)
            guard fgw_wait_many(&request, 1, 1_000_000_000) > 0, read(controller, &byte, 1) == 1 else { return }
            _ = write(controller, &byte, 1)
        }
    }
    echo.start()
    SerialPort.usePreciseTimers()
    var times: [Double] = []
    for index in 0..<count {
        let start = ContinuousClock.now
        try port.write([UInt8(truncatingIfNeeded: index)])
        guard try !port.read(limit: 1, deadline: .now + .seconds(1)).isEmpty else { break }
        times.append(microseconds(ContinuousClock.now - start))
    }
    withExtendedLifetime(terminal) {}
    return percentile(times, 0.5)
}
