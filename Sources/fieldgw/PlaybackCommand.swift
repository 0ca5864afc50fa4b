import ArgumentParser
import EtherNetIP
import Foundation
import History
import Modbus
import NIOPosix

/// `fieldgw playback`: recorded values replayed into a running simulator.
struct PlaybackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playback",
        abstract: "Replay a history file's values into a simulator's tags (EtherNet/IP) or registers (Modbus/TCP).",
        discussion: """
            Reads PATH and its rotated files (PATH.0, PATH.1.gz, ...) oldest first and writes each \
            record's values when its time comes: at the recorded pace times --speed (0: as fast as \
            they can be written). Tag records are those enip-server --historize writes \
            (["NAME", [FIRST, LAST]] with {"read"|"write": [values]}); register records are \
            cpppo's {"40001": value, ...} (coils and holding registers can be written over Modbus/TCP; \
            others are skipped and counted). Records of the other kind are skipped.
            Example: fieldgw playback tags.hst --enip 127.0.0.1:44818 --speed 10
            """
    )

    @Argument(help: "The live history file's path.")
    var path: String

    @Option(help: ArgumentHelp("Write tags of the EtherNet/IP server at HOST[:PORT].", valueName: "HOST[:PORT]"))
    var enip: String?

    @Option(help: ArgumentHelp("Write registers of the Modbus/TCP server at HOST[:PORT].", valueName: "HOST[:PORT]"))
    var modbus: String?

    @Option(help: "The Modbus unit id.")
    var unit: UInt8 = 1

    @OptionGroup var window: TimeWindow

    @Option(help: "The pace: 1 as recorded, 10 ten times faster, 0 as fast as possible.")
    var speed = 1.0

    func validate() throws {
        guard (enip == nil) != (modbus == nil) else { throw ValidationError("give one of --enip or --modbus") }
        guard speed >= 0 else { throw ValidationError("--speed cannot be negative") }
    }

    func run() async throws {
        try await CommandFailure.reportingAny("playback") {
            let (from, to) = try window.bounds()
            let playback = Playback(files: try HistoryFiles(path: path), from: from, to: to, speed: speed)
            let report: Playback.Report
            if let enip {
                let (host, port) = try Console.endpoint(enip, option: "--enip", defaultPort: 44818)
                let client = try await ENIPClient.connect(host: host, port: port, group: MultiThreadedEventLoopGroup.singleton)
                defer { Task { await client.close() } }
                let writer = TagPlayback(client: client)
                report = try await playback.run { try await writer.apply($0) }
            } else {
                let (host, port) = try Console.endpoint(modbus!, option: "--modbus", defaultPort: 502)
                let client = try await ModbusTCPClient.connect(host: host, port: port, group: MultiThreadedEventLoopGroup.singleton)
                defer { Task { await client.close() } }
                let unit = unit
                report = try await playback.run { try await RegisterPlayback.apply($0, client: client, unit: unit) }
            }
            for problem in report.problems { FileHandle.standardError.write(Data("fieldgw playback: skipped \(problem)\n".utf8)) }
            let span = report.first.map { " from \($0) to \(report.last ?? $0)" } ?? ""
            Console.say("playback: \(report.applied) records applied, \(report.skipped) skipped\(span)")
        }
    }
}

/// Tag records written over EtherNet/IP; each tag's type learned by reading it once.
actor TagPlayback {
    let client: ENIPClient
    private var types: [String: CIPType] = [:]

    init(client: ENIPClient) { self.client = client }

    func apply(_ record: HistoryRecord) async throws -> Bool {
        guard let (tag, first, values) = record.tagValues else { return false }
        let type = try await type(of: tag)
        let text = values.map { type.isInteger ? Self.whole($0) : String($0) }.joined(separator: ",")
        let address = first == 0 && values.count == 1 ? tag : "\(tag)[\(first)-\(first + values.count - 1)]"
        let result = try await perform("\(address)=(\(type.name))\(text)")
        guard result.status == .success else { throw PlaybackError("\(result)") }
        return true
    }

    /// A recorded number as an integer type's text: NaN as 0, the rest clamped to Int64.
    static func whole(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "0" : (value < 0 ? String(Int64.min) : String(Int64.max)) }
        return String(Int64(min(max(value.rounded(.towardZero), -9.223372036854775e18), 9.223372036854775e18)))
    }

    private func type(of tag: String) async throws -> CIPType {
        if let known = types[tag] { return known }
        let result = try await perform(tag)
        guard result.status == .success, result.type.count == 2,
              let type = CIPType(rawValue: UInt16(result.type[0]) | UInt16(result.type[1]) << 8) else {
            throw PlaybackError("cannot learn the type of \(tag): \(result)")
        }
        types[tag] = type
        return type
    }

    private func perform(_ text: String) async throws -> TagResult {
        let operation: TagOperation
        do { operation = try TagOperation(parsing: text) } catch { throw PlaybackError("\(error)") }
        for try await result in client.perform([operation]) { return result }
        throw PlaybackError("no reply to \(text)")
    }
}

/// Register records written over Modbus/TCP: coils and holding registers.
enum RegisterPlayback {
    static func apply(_ record: HistoryRecord, client: ModbusTCPClient, unit: UInt8) async throws -> Bool {
        guard let values = record.registerValues else { return false }
        var wrote = false
        for (number, value) in values {
            guard let address = ModbusAddress(number), !value.isNaN else { continue }
            let request: Request
            switch address.table {
            case .coils: request = .writeSingleCoil(address: address.offset, value: value != 0)
            case .holdingRegisters: request = .writeSingleRegister(address: address.offset, value: UInt16(min(max(value, 0), 65535)))
            default: continue  // input registers and discrete inputs cannot be written over Modbus/TCP
            }
            let reply = try await client.call(request, unit: unit)
            if case .exception(let exception) = reply { throw PlaybackError("\(address.short) = \(value): \(exception)") }
            wrote = true
        }
        return wrote
    }
}

struct PlaybackError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
