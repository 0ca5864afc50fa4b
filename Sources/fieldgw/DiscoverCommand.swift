import ArgumentParser
import Discovery
import Foundation
import Logging

struct DiscoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover",
        abstract: "List serial adapters (node, chip, vid:pid, serial, by-id link), or watch them come and go.",
        discussion: """
            The STABLE column is what to write in configuration to find the adapter again \
            after a re-plug: its serial number, else its by-path link (the USB port). \
            With --watch, each plug and unplug prints a line (a JSON object with --json) \
            until interrupted. Where no udev daemon runs, --watch rescans sysfs instead.
            """
    )

    @Flag(name: .long, help: "Print JSON: an array of adapters, or one object per event with --watch.")
    var json = false

    @Flag(name: .long, help: "After the list, print adapters as they are plugged in and unplugged.")
    var watch = false

    @Option(name: .long, help: "How --watch hears of changes: automatic, udev or rescan.")
    var monitor: AdapterMonitor.Mode = .automatic

    @Option(name: .long, help: "Seconds between sysfs rescans when rescanning.")
    var rescanInterval: Double = 1

    @Option(name: .long, help: "Print only the adapter this matcher names (serial:…, VID:PID[:IF], a /dev/serial link, a node glob).")
    var match: String?

    @Option(name: .long, help: "Set the FTDI latency timer (ms, 1 for Modbus) of the adapter --match names.")
    var latencyTimer: Int?

    func validate() throws {
        if latencyTimer != nil && match == nil { throw ValidationError("--latency-timer needs --match to name the adapter") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let matcher = try match.map { text throws(ValidationError) in
            do { return try AdapterMatcher(parsing: text) } catch { throw ValidationError(String(describing: error)) }
        }
        if let matcher {
            var adapter = try Discovery.resolve(matcher)
            if let latencyTimer { adapter = try Discovery.setLatencyTimer(latencyTimer, on: adapter) }
            try printList([adapter])
        } else if !watch {
            try printList(Discovery.adapters())
        }
        guard watch else { return }
        let watcher = AdapterMonitor(mode: monitor, rescanInterval: .milliseconds(Int(rescanInterval * 1000)),
                                     reportPresent: matcher == nil)
        if !json { print("watching (\(watcher.mode.rawValue)); interrupt to stop") }
        for await event in watcher.events {
            try printEvent(event)
            fflush(nil)  // a pipe buffers: flush each event as it comes
        }
    }

    private func printList(_ adapters: [SerialAdapter]) throws {
        if json {
            print(try encode(adapters))
            return
        }
        guard !adapters.isEmpty else {
            print("no serial adapters found")
            return
        }
        let rows = adapters.map { [$0.node, $0.chip ?? $0.driver ?? "-", $0.usbID ?? "-", $0.serial ?? "-", $0.stableName, $0.byID.first ?? "-"] }
        printTable(header: ["NODE", "CHIP", "VID:PID", "SERIAL", "STABLE", "BY-ID"], rows: rows)
    }

    private func printEvent(_ event: AdapterEvent) throws {
        let (kind, adapter) = switch event {
        case .added(let adapter): ("added", adapter)
        case .removed(let adapter): ("removed", adapter)
        }
        if json {
            print(try encode(Event(event: kind, adapter: adapter)))
        } else {
            print("\(kind) \(adapter.node) \(adapter.chip ?? adapter.driver ?? "-") \(adapter.usbID ?? "-") \(adapter.stableName)")
        }
    }

    private struct Event: Encodable {
        let event: String
        let adapter: SerialAdapter
    }

    private func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = watch ? [.sortedKeys, .withoutEscapingSlashes] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private func printTable(header: [String], rows: [[String]]) {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            let cells = row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
            print(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }
}

extension AdapterMonitor.Mode: ExpressibleByArgument {}
