// Lines of simulated slaves for the capacity benchmark, in a process of
// their own so that their cost (the carriers' pacing, the slaves' replies)
// is not counted as the gateway's.
import Foundation
import Gateway
import Modbus
import Serial

/// `lines` paced buses at `baud` (8N1), each with one slave thread answering
/// as units 1...`units` (holding registers 0-99 hold 0-99 plus 1000 × unit);
/// prints "ready PATH..." (the master's ends), serves until stdin closes, then
/// the master's silences beyond t3.5 on each line and on all of them, since
/// the last "mark" line read from stdin (the start of the measured window).
func serveSlaves(baud: Int, units: Int, lines: Int) throws {
    let settings = SerialSettings(baud: baud, parity: .none)
    var buses: [VirtualBus] = []
    var slaves: [SlaveThread] = []
    for _ in 0..<lines {
        let bus = try VirtualBus(ends: 2, settings: settings)
        var devices: [UInt8: ModbusDevice] = [:]
        for unit in 1...units {
            let store = DataStore()
            store.define(.holdingRegisters, at: 0, values: (0..<100).map { UInt16($0 + 1000 * unit) })
            devices[UInt8(unit)] = ModbusDevice(store: store)
        }
        slaves.append(SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: devices)))
        buses.append(bus)
    }
    FileHandle.standardOutput.write(Data(("ready " + buses.map { $0.paths[0] }.joined(separator: " ") + "\n").utf8))
    while let line = readLine() {
        if line == "mark" { _ = buses.map { $0.takeSilences() } }
    }
    let silences = buses.map { $0.takeSilences() }
    report(["lines": silences.map { gapFigures($0, t35: settings.t35) }, "all": gapFigures(silences.flatMap { $0 }, t35: settings.t35)])
    slaves.forEach { $0.stop() }
    withExtendedLifetime(buses) {}
}
