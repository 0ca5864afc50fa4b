import Foundation
import Serial
import Synchronization
import Modbus
import Threads

/// An RTU slave serving on a thread of its own, as a device on the bus
/// would: the demo's simulated devices, and the tests'.
public final class SlaveThread: Sendable {
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)
    private let started = DispatchSemaphore(value: 0)

    /// Opens `path` and serves `units` on it from a thread of its own; returns
    /// once it serves, or after 5 s. An open that fails ends the thread silently.
    public init(path: String, settings: SerialSettings, units: UnitMap, faults: [ModbusFault] = []) {
        WorkerThread.detach(name: "slave \(path)") { [self] in
            defer { finished.signal() }
            SerialPort.usePreciseTimers()
            do {
                let slave = RTUSlave(port: try SerialPort(path: path, settings: settings), units: units, faults: faults)
                started.signal()
                try slave.serve { running.load(ordering: .relaxed) }
            } catch {
                started.signal()
            }
        }
        _ = started.wait(timeout: .now() + 5)
    }

    /// Stops serving (the slave looks every 100 ms) and waits up to 5 s for the
    /// thread to end.
    public func stop() {
        running.store(false, ordering: .relaxed)
        _ = finished.wait(timeout: .now() + 5)
    }
}
