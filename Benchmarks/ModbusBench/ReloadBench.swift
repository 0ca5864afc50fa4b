import Foundation
import Gateway
import Logging
import Modbus
import NIOPosix
import Serial
import Synchronization

/// Reload of one line among `lines`, beside a restart of the whole gateway
/// (what mbusd, cpppo or a vendor box need to change a line): a client per
/// other line reads without pause through both, counting failed reads and
/// the longest gap between two answers (and, for scale, the longest gap in
/// two quiet seconds before). Prints JSON.
func reloadBench(lines: Int, reloads: Int) async throws {
    let settings = SerialSettings(baud: 115_200)
    let buses = try (0..<lines).map { _ in try VirtualBus(ends: 2, settings: settings) }
    let slaves = buses.map { bus in
        SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: ModbusDevice(store: store())]))
    }
    defer { slaves.forEach { $0.stop() } }
    // The pty pairs must outlive the restart (an optimised build ends them after their last use).
    defer { withExtendedLifetime(buses) {} }
    let text = { (port: Int, timeout: Int) in reloadConfiguration(buses.map { $0.paths[0] }, port: port, firstTimeout: timeout) }
    var service = try await GatewayService.start(try Configuration(toml: text(0, 300), file: "bench.toml"),
                                                 group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "bench"))
    let port = service.servers[0].port
    let readers = (1..<lines).map { ReloadReader(port: port, unit: UInt8($0 + 1)) }
    try await Task.sleep(for: .seconds(1))
    readers.forEach { $0.mark() }
    try await Task.sleep(for: .seconds(2))
    let quiet = readers.map { $0.mark() }

    var reloadTimes: [Double] = []
    for round in 0..<reloads {
        let start = ContinuousClock.now
        let report = await service.reload(try Configuration(toml: text(0, round % 2 == 0 ? 301 : 300), file: "bench.toml"))
        reloadTimes.append(microseconds(ContinuousClock.now - start) / 1000)
        precondition(report.restarted == ["line l0"], "\(report)")
        try await Task.sleep(for: .milliseconds(100))
    }
    let duringReloads = readers.map { $0.mark() }

    try await Task.sleep(for: .milliseconds(300))
    readers.forEach { $0.mark() }
    let restartStart = ContinuousClock.now
    await service.stop()
    // Started again where the clients look: the port it had.
    service = try await GatewayService.start(try Configuration(toml: text(port, 300), file: "bench.toml"),
                                             group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "bench"))
    let restartMilliseconds = microseconds(ContinuousClock.now - restartStart) / 1000
    try await Task.sleep(for: .seconds(1))
    let duringRestart = readers.map { $0.mark() }
    readers.forEach { $0.stop() }
    await service.stop()
    report(["bench": "reload", "lines": lines, "reloads": reloads, "quiet_longest_gap_ms": quiet.map(\.longestGap).max() ?? 0,
            "reload_ms_median": percentile(reloadTimes, 0.5), "reload_ms_max": reloadTimes.max() ?? 0,
            "reload_reads": duringReloads.map(\.answered).reduce(0, +), "reload_failed": duringReloads.map(\.failed).reduce(0, +),
            "reload_longest_gap_ms": duringReloads.map(\.longestGap).max() ?? 0,
            "restart_ms": restartMilliseconds,
            "restart_reads": duringRestart.map(\.answered).reduce(0, +), "restart_failed": duringRestart.map(\.failed).reduce(0, +),
            "restart_longest_gap_ms": duringRestart.map(\.longestGap).max() ?? 0])
}

private func store() -> DataStore {
    let store = DataStore()
    store.define(.holdingRegisters, at: 0, values: Array(0..<10))
    return store
}

private func reloadConfiguration(_ adapters: [String], port: Int, firstTimeout: Int) -> String {
    var text = "[web]\nenabled = false\n[[listener]]\nbind = \"127.0.0.1:\(port)\"\n"
    for (index, adapter) in adapters.enumerated() {
        text += "[[line]]\nname = \"l\(index)\"\nadapter = \"\(adapter)\"\nbaud = 115200\n"
        text += "timeout_max_ms = \(index == 0 ? firstTimeout : 300)\n"
        text += "[[route]]\nunits = \"\(index + 1)\"\nline = \"l\(index)\"\noffset = \(index)\n"
    }
    return text
}

/// A client on its own thread reading one unit's register without pause,
/// reconnecting when its connection ends. `mark()` returns what it saw since
/// the last mark.
final class ReloadReader: Sendable {
    struct Tally: Sendable {
        var answered = 0
        var failed = 0
        /// Milliseconds.
        var longestGap = 0.0
    }

    private let state = Mutex<(tally: Tally, lastAnswer: ContinuousClock.Instant)>((Tally(), .now))
    private let stopping = Atomic<Bool>(false)

    init(port: Int, unit: UInt8) {
        Thread.detachNewThread { [self] in
            while !stopping.load(ordering: .relaxed) {
                let socket = BlockingSocket(port: port)
                var transaction: UInt16 = 0
                while let socket, !stopping.load(ordering: .relaxed) {
                    transaction &+= 1
                    let reply = socket.exchange([UInt8(transaction >> 8), UInt8(transaction & 0xFF), 0, 0, 0, 6, unit, 3, 0, 0, 0, 1])
                    record(reply?.count == 11 && reply?[7] == 3)
                    if reply == nil { break }
                }
                if socket == nil { record(false); usleep(2000) }
            }
        }
    }

    private func record(_ answered: Bool) {
        let now = ContinuousClock.now
        state.withLock { state in
            guard answered else { return state.tally.failed += 1 }
            state.tally.answered += 1
            state.tally.longestGap = max(state.tally.longestGap, microseconds(now - state.lastAnswer) / 1000)
            state.lastAnswer = now
        }
    }

    @discardableResult
    func mark() -> Tally {
        state.withLock { state in
            defer { state.tally = Tally() }
            return state.tally
        }
    }

    func stop() { stopping.store(true, ordering: .relaxed) }
}

/// A blocking TCP connection to 127.0.0.1 with a 2 s receive limit.
final class BlockingSocket {
    let descriptor: Int32

    init?(port: Int) {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var limit = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            return nil
        }
    }

    deinit { close(descriptor) }

    /// One request out, one reply back (an MBAP reply of up to 260 bytes); nil if the connection failed.
    func exchange(_ request: [UInt8]) -> [UInt8]? {
        guard request.withUnsafeBytes({ send(descriptor, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 260)
        var have = 0
        while have < 6 || have < 6 + (Int(reply[4]) << 8 | Int(reply[5])) {
            let count = reply.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress! + have, 260 - have, 0) }
            guard count > 0 else { return nil }
            have += count
        }
        return Array(reply[0..<have])
    }
}
