import Foundation
import Logging
import Modbus
import NIOCore
import Serial
import Synchronization
import Threads

/// The gateway as a Modbus/RTU slave on a serial port (`[[serial_slave]]`):
/// each request for its units goes through the gateway's routes, to a line
/// of any kind (or the poll cache in agent mode), and the answer goes back on
/// the port. The gateway's own 0x0A/0x0B are silence unless `absent =
/// "exception"`: a serial master takes silence for a slave that is not there,
/// and many do not expect a gateway's exceptions. The port is opened again,
/// as a line's is, while it is missing or after it fails.
final class SerialSlaveFace: Sendable {
    struct Counters: Sendable, Hashable {
        var requests = 0
        var answered = 0
        /// 0x0A/0x0B kept off the line (`absent = "silence"`).
        var silenced = 0
    }

    let configuration: Configuration.SerialSlave
    private let running = Atomic<Bool>(true)
    private let ended = Latch<Void>()
    private let tally = Mutex(Counters())

    init(_ configuration: Configuration.SerialSlave, serving: any ModbusServing, loop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        WorkerThread.detach(name: "serial slave \(configuration.adapter)") { [self] in
            serve(serving, loop: loop, logger: logger)
            ended.set(())
        }
    }

    var counters: Counters { tally.withLock { $0 } }

    /// Stops after the request in hand is answered.
    func stop() async {
        running.store(false, ordering: .relaxed)
        await ended.wait()
    }

    private func serve(_ serving: any ModbusServing, loop: any EventLoop, logger: Logger) {
        let connection = ModbusConnection()
        var complained = false
        while running.load(ordering: .relaxed) {
            do {
                let port = try open()
                logger.notice("serial slave on \(port.path): answering units \(configuration.units)")
                complained = false
                let slave = RTUSlave(port: port, serving: Set(configuration.units)) { [self] unit, pdu in
                    answer(unit, pdu, serving: serving, connection: connection, loop: loop)
                }
                try slave.serve { running.load(ordering: .relaxed) }
            } catch {
                if !complained { logger.warning("serial slave on \(configuration.adapter): \(Bus.downReason(error)); trying again") }
                complained = true
                for _ in 0..<5 where running.load(ordering: .relaxed) { usleep(100_000) }
            }
        }
    }

    private func open() throws -> SerialPort {
        let port = try SerialPort(path: try GatewayService.resolve(configuration.adapter, for: "serial slave"), settings: configuration.settings)
        if let rs485 = configuration.rs485 { _ = try port.setRS485(rs485) }
        return port
    }

    /// The routes' reply, waited for on this thread; nil keeps the line silent.
    private func answer(_ unit: UInt8, _ pdu: [UInt8], serving: any ModbusServing, connection: ModbusConnection,
                        loop: any EventLoop) -> [UInt8]? {
        let reply: [UInt8]?
        switch serving.serve(unit: unit, pdu: pdu, from: connection, on: loop) {
        case .now(let now): reply = now
        case let served: reply = (try? served.future(on: loop).wait()) ?? nil
        }
        let unreachable = reply.map { $0.count == 2 && $0[0] & 0x80 != 0 && [0x0A, 0x0B].contains($0[1]) } ?? false
        let silent = reply == nil || unit == 0 || unreachable && configuration.absent == .silence
        tally.withLock { counters in
            counters.requests += 1
            if silent && unreachable { counters.silenced += 1 } else if !silent { counters.answered += 1 }
        }
        return silent ? nil : reply
    }
}
