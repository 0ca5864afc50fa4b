import CoreMetrics
import Foundation
import History
import Logging
import Modbus
import Synchronization

/// `[history]`: each polled value that changed since the last record and
/// each write a slave carried out, in a cpppo-compatible history file.
/// A record's data is cpppo's register form, `{"40001": 17, "40002": 3}`
/// (which `fieldgw playback --modbus` replays); its serial names where the
/// values are, `["LINE", SLAVE]` for a poll and `["LINE", SLAVE, "write"]`
/// for a write. The lines and pollers of the configuration in force at
/// start-up are recorded (a reload's new ones from the next start).
public final class GatewayHistorian: Sendable {
    private let writer: HistoryWriter
    /// Where the records go to be written: a thread of their own (see `HistoryOutbox`).
    private let outbox: HistoryOutbox
    private let logger: Logger
    private let last = Mutex<[String: [ModbusAddress: UInt16]]>([:])
    private let observing = Mutex<(pollers: [(Poller, Int)], buses: [(Bus, Int)])>(([], []))
    private let failing = Atomic(false)

    /// Opens the history file `settings` name, rotated and synced as they say.
    public init(settings: Configuration.History, logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory) throws {
        writer = try HistoryWriter(path: settings.path, rotation: settings.rotation, sync: settings.sync, logger: logger)
        outbox = HistoryOutbox(logger: logger, metrics: metrics)
        self.logger = logger
    }

    /// The historian as a part of the gateway: it starts once the configuration is applied.
    public static func part(_ settings: Configuration.History, gateway: GatewayService, logger: Logger) -> Part {
        let made = Latch<GatewayHistorian>()
        return Part("history \(settings.path)", start: {
            await gateway.applied.wait()
            let historian = try GatewayHistorian(settings: settings, logger: logger, metrics: gateway.metrics)
            made.set(historian)
            historian.attach(gateway)
        }, stop: {
            made.value?.detach()
        })
    }

    func attach(_ gateway: GatewayService) {
        var pollers: [(Poller, Int)] = []
        for poller in gateway.pollers {
            let key = "\(poller.bus.name)/\(poller.slave)"
            pollers.append((poller, poller.observeCycles { [self] online, at in
                if online { recordChanges(of: poller, key: key, at: at) }
            }))
        }
        var buses: [(Bus, Int)] = []
        for (name, bus) in gateway.buses {
            buses.append((bus, bus.observeWrites { [self] slave, pdu in recordWrite(pdu, line: name, slave: slave) }))
        }
        observing.withLock { $0 = (pollers, buses) }
        let started = "\(Timestamp.now()): fieldgw started recording \(pollers.count) pollers on \(buses.count) lines"
        outbox.send { [self] in attempt { try writer.comment(started) } }
    }

    func detach() {
        let (pollers, buses) = observing.withLock { observing in defer { observing = ([], []) }; return observing }
        for (poller, number) in pollers { poller.stopObserving(number) }
        for (bus, number) in buses { bus.stopObservingWrites(number) }
        outbox.finish()
        attempt { try writer.close() }
    }

    private func recordChanges(of poller: Poller, key: String, at date: Date) {
        let values = poller.addresses.compactMap { address in poller.read(address).map { (address, $0) } }
        let changed: [(ModbusAddress, UInt16)] = last.withLock { last in
            var seen = last[key] ?? [:]
            defer { last[key] = seen }
            return values.filter { address, value in
                defer { seen[address] = value }
                return seen[address] != value
            }
        }
        guard !changed.isEmpty else { return }
        let serial = JSONValue.array([.string(poller.bus.name), .int(Int64(poller.slave))])
        record(changed, serial: serial, at: Timestamp(date.timeIntervalSince1970))
    }

    private func recordWrite(_ pdu: [UInt8], line: String, slave: UInt8) {
        guard let request = try? Request(pdu: pdu[...]) else { return }
        let written: [(ModbusAddress, UInt16)]
        switch request {
        case .writeSingleCoil(let address, let value): written = [(ModbusAddress(table: .coils, offset: address), value ? 1 : 0)]
        case .writeSingleRegister(let address, let value): written = [(ModbusAddress(table: .holdingRegisters, offset: address), value)]
        case .writeMultipleCoils(let address, let values): written = Self.run(.coils, from: address, values.map { $0 ? 1 : 0 })
        case .writeMultipleRegisters(let address, let values): written = Self.run(.holdingRegisters, from: address, values)
        case .readWriteMultipleRegisters(_, _, let address, let values): written = Self.run(.holdingRegisters, from: address, values)
        default: return  // a mask write's result is the next poll's to see
        }
        record(written, serial: .array([.string(line), .int(Int64(slave)), .string("write")]), at: .now())
    }

    private static func run(_ table: Table, from address: UInt16, _ values: [UInt16]) -> [(ModbusAddress, UInt16)] {
        values.enumerated().map { (ModbusAddress(table: table, offset: address &+ UInt16(truncatingIfNeeded: $0)), $1) }
    }

    private func record(_ values: [(ModbusAddress, UInt16)], serial: JSONValue, at time: Timestamp) {
        // cpppo's numbers cannot name a coil past 9999 (its 6-digit form reads
        // as another table): such coils are not recorded rather than misnamed.
        let values = values.filter { $0.0.table != .coils || $0.0.offset <= 9998 }
        guard !values.isEmpty else { return }
        outbox.send { [self] in
            attempt {
                try writer.write(serial: serial, at: time) { json in
                    json.object { json in
                        for (address, value) in values {
                            json.key(address.short)
                            json.value(Int64(value))
                        }
                    }
                }
            }
        }
    }

    /// A failing history file must not stop the gateway: logged once, retried with each record.
    private func attempt(_ body: () throws -> Void) {
        do {
            try body()
            if failing.exchange(false, ordering: .relaxed) { logger.notice("history writing resumed") }
        } catch {
            if !failing.exchange(true, ordering: .relaxed) { logger.error("history writing failed", metadata: ["error": "\(error)"]) }
        }
    }
}
