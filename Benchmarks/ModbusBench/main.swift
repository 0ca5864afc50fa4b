// The Swift side of Benchmarks/modbus_bench.py: the RTU framer over a noisy
// byte stream (throughput, and how many of the frames put in came out, in
// order, and how many came out that were not put in); the gateway's line
// efficiency on a paced line; a paced line with a slave for a peer to drive;
// and round-trip latency, direct and through the gateway. One JSON object a
// measurement.
import Foundation
import Gateway
import Logging
import Modbus
import NIOPosix
import Serial
import Synchronization

func report(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// The frames the driver put into the stream, in order.
func expectedFrames(bytes: [UInt8], lengths: [UInt8]) -> [ArraySlice<UInt8>] {
    var frames: [ArraySlice<UInt8>] = []
    var at = 0
    for length in lengths {
        frames.append(bytes[at..<(at + Int(length))])
        at += Int(length)
    }
    return frames
}

func framerBench(stream: [UInt8], expected: [ArraySlice<UInt8>], read: Int, rounds: Int) {
    var times: [Double] = []
    var recovered = 0, extra = 0
    var counters: RTUFramer.Counters?
    for _ in 0..<rounds {
        var framer = RTUFramer(servingUnits: [1, 2, 3])
        var next = 0, strangers = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var at = 0
        while at < stream.count {
            let end = min(at + read, stream.count)
            for frame in framer.receive(stream[at..<end]) {
                if next < expected.count && frame[...] == expected[next] { next += 1 } else { strangers += 1 }
            }
            at = end
        }
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        recovered = next
        extra = strangers
        counters = framer.counters
    }
    report(["bench": "framer", "bytes": stream.count, "rounds": times, "frames": expected.count, "recovered": recovered,
            "extra": extra, "crc_errors": counters?.crcErrors ?? 0, "noise_bytes": counters?.noiseBytes ?? 0])
}

/// A line paced at `baud` (8N1) with one slave (unit 1) that answers at once.
func pacedLine(baud: Int, paced: Bool = true) throws -> (VirtualBus, SlaveThread, SerialSettings) {
    let settings = SerialSettings(baud: baud, parity: .none)
    let line = try VirtualBus(ends: 2, settings: settings, paced: paced)
    let store = DataStore()
    store.define(.holdingRegisters, at: 0, values: Array(0..<100))
    let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: ModbusDevice(store: store)]))
    return (line, slave, settings)
}

/// The gateway's line (a Bus) reading 10 registers back to back for
/// `seconds`, with four requests always waiting (as TCP clients and a poller
/// keep a busy line's queue), so that the line is never idle for want of one.
func lineBench(baud: Int, seconds: Double) async throws {
    let roundTrip = try ptyRoundTrip()
    let (line, slave, settings) = try pacedLine(baud: baud)
    let bus = Bus(name: "bench", port: try SerialPort(path: line.paths[0], settings: settings), logger: Logger(label: "bench"))
    let request = Request.readHoldingRegisters(address: 0, count: 10)
    let tally = Tally(bus: bus, pdu: request.pdu, expected: Response.registers(Array(0..<10)).pdu(for: request))
    let start = ContinuousClock.now
    for _ in 0..<4 { tally.next() }
    try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    let (count, wrong) = tally.stop()
    let elapsed = (ContinuousClock.now - start).components
    var fields = gapFigures(line.takeSilences(), t35: settings.t35)
    fields.merge(["bench": "line", "baud": baud, "transactions": count, "wrong": wrong,
                  "seconds": Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18,
                  "request_bytes": request.pdu.count + 3, "reply_bytes": request.replyFrameLength,
                  "pty_round_trip_us": roundTrip]) { $1 }
    report(fields)
    await bus.close()
    slave.stop()
    withExtendedLifetime(line) {}
}

/// Keeps one request on the line's queue per call to `next`, counting the answers.
final class Tally: Sendable {
    let bus: Bus
    let pdu: [UInt8]
    let expected: [UInt8]
    private let loop = MultiThreadedEventLoopGroup.singleton.next()
    private let counts = Mutex<(going: Bool, right: Int, wrong: Int)>((true, 0, 0))

    init(bus: Bus, pdu: [UInt8], expected: [UInt8]) {
        self.bus = bus
        self.pdu = pdu
        self.expected = expected
    }

    func next() {
        guard counts.withLock({ $0.going }) else { return }
        bus.submit(pdu, to: 1, priority: .forwarded, on: loop).whenSuccess { reply in
            self.counts.withLock { counts in
                guard counts.going else { return }
                if reply == self.expected { counts.right += 1 } else { counts.wrong += 1 }
            }
            self.next()
        }
    }

    func stop() -> (Int, Int) {
        counts.withLock { counts in
            counts.going = false
            return (counts.right, counts.wrong)
        }
    }
}

/// Serves a paced line for a peer: prints the master's end, serves until
/// stdin closes, then prints the master's silences beyond t3.5.
func serveLine(baud: Int) throws {
    let (line, slave, settings) = try pacedLine(baud: baud)
    FileHandle.standardOutput.write(Data("ready \(line.paths[0])\n".utf8))
    while readLine() != nil {}
    report(gapFigures(line.takeSilences(), t35: settings.t35))
    slave.stop()
    withExtendedLifetime(line) {}
}

/// Round trips of a 10-register read, `count` times: straight from our RTU
/// master to the slave, and through the gateway (TCP client → server → Bus),
/// on an unpaced pty line; microseconds at p50 and p99 of each.
func latencyBench(count: Int) async throws {
    let (line, slave, settings) = try pacedLine(baud: 115200, paced: false)
    let request = Request.readHoldingRegisters(address: 0, count: 10)
    var direct: [Double] = []
    do {
        let master = RTUMaster(port: try SerialPort(path: line.paths[0], settings: settings), slaveTimeout: .seconds(1))
        for _ in 0..<count {
            let start = ContinuousClock.now
            _ = try master.send(request, unit: 1)
            direct.append(microseconds(ContinuousClock.now - start))
        }
    }
    let bus = Bus(name: "latency", port: try SerialPort(path: line.paths[0], settings: settings), logger: Logger(label: "bench"))
    let group = MultiThreadedEventLoopGroup.singleton
    let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: Router(routes: Router.range(1...1, to: bus)), group: group)
    let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: server.port, group: group, timeout: .seconds(5))
    var gateway: [Double] = []
    for _ in 0..<count {
        let start = ContinuousClock.now
        _ = try await client.send(request, unit: 1)
        gateway.append(microseconds(ContinuousClock.now - start))
    }
    await client.close()
    try await server.close()
    await bus.close()
    slave.stop()
    withExtendedLifetime(line) {}
    report(["bench": "latency", "count": count, "direct_p50": percentile(direct, 0.5), "direct_p99": percentile(direct, 0.99),
            "gateway_p50": percentile(gateway, 0.5), "gateway_p99": percentile(gateway, 0.99)])
}

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) * 1e-12
}

func percentile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
}

let arguments = CommandLine.arguments
switch (arguments.count, arguments.count > 1 ? arguments[1] : "") {
case (6, "framer"):
    guard let read = Int(arguments[5]) else { exit(2) }
    let stream = [UInt8](try Data(contentsOf: URL(fileURLWithPath: arguments[2])))
    let frames = [UInt8](try Data(contentsOf: URL(fileURLWithPath: arguments[3])))
    let lengths = [UInt8](try Data(contentsOf: URL(fileURLWithPath: arguments[4])))
    framerBench(stream: stream, expected: expectedFrames(bytes: frames, lengths: lengths), read: read, rounds: 3)
case (4, "line"):
    try await lineBench(baud: Int(arguments[2])!, seconds: Double(arguments[3])!)
case (3, "serve"):
    try serveLine(baud: Int(arguments[2])!)
case (5, "slaves"):
    try serveSlaves(baud: Int(arguments[2])!, units: Int(arguments[3])!, lines: Int(arguments[4])!)
case (3, "pty"):
    try await ptyGapBench(seconds: Double(arguments[2])!)
case (3, "latency"):
    try await latencyBench(count: Int(arguments[2])!)
case (4, "reload"):
    try await reloadBench(lines: Int(arguments[2])!, reloads: Int(arguments[3])!)
case (5, "metrics"):
    metricsBench(lines: Int(arguments[2])!, slaves: Int(arguments[3])!, rounds: Int(arguments[4])!)
default:
    FileHandle.standardError.write(Data("""
        usage: modbus-bench framer STREAM FRAMES LENGTHS READ_SIZE
               modbus-bench line BAUD SECONDS
               modbus-bench serve BAUD
               modbus-bench latency COUNT
               modbus-bench pty SECONDS
               modbus-bench slaves BAUD UNITS LINES
               modbus-bench metrics LINES SLAVES ROUNDS
               modbus-bench reload LINES RELOADS

        """.utf8))
    exit(2)
}
