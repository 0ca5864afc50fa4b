import ArgumentParser
import EtherNetIP
import Gateway
import History
import Logging
import NIOPosix
import Prometheus
import Web

struct ENIPServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enip-server",
        abstract: "Simulate a ControlLogix controller's tags on EtherNet/IP, with cpppo's tag syntax.",
        discussion: """
            Each TAG is NAME=TYPE or NAME=TYPE[DIMENSIONS], TYPE one of BOOL, SINT, INT, DINT, LINT, \
            USINT, UINT, UDINT, ULINT, REAL, LREAL, DWORD, with up to three dimensions \
            (Grid=DINT[4,8]); a BOOL array is held as DWORDs, 32 to each, as a Logix controller does.
            TYPE may also be STRING (Logix's 82-character string) or a structure defined with \
            --struct NAME=MEMBER:TYPE,MEMBER:TYPE[N],... (members atomic, STRING, or a structure \
            defined before it; BOOL members are packed as Logix packs them).
            Example: fieldgw enip-server -a 127.0.0.1:44818 SCADA=INT[1000] Temp=REAL \
              --struct Motor=Speed:REAL,Run:BOOL,Counts:DINT[4] Pump=Motor Label=STRING
            With --assembly it is also an I/O adapter: a PLC (or a scanner) opens Class 1 \
            connections to the assemblies and exchanges them every RPI over UDP (--io, port 2222).
            Example: fieldgw enip-server --assembly 100=input:8 --assembly 150=output:8 \
              --assembly 151=configuration:0 --print
            """
    )

    @Option(name: [.short, .long], help: "HOST:PORT to serve on (\":44818\" is every interface; port 0 picks one).")
    var address = ":44818"

    @Option(name: .customLong("struct"), help: ArgumentHelp("A structure type: NAME=MEMBER:TYPE,MEMBER:TYPE[N],... May be repeated.", valueName: "DEFINITION"))
    var structures: [String] = []

    @Flag(name: [.short, .long], help: "Print each tag write as cpppo does (SCADA[    1-1    ] <= [99] ), and reads too with -v.")
    var print = false

    @Flag(name: .customLong("no-print"), help: "Print no tag writes (the default).")
    var noPrint = false

    @Flag(name: [.short, .long], help: "Log more (cpppo's log lines on stderr): the tags and the address with one; with --print, reads too.")
    var verbose: Int

    @Option(name: [.short, .long], help: ArgumentHelp("Write the log lines to FILE instead of stderr.", valueName: "FILE"))
    var log: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Delay every reply by SECONDS, or by a time drawn from LOW-HIGH.", valueName: "SECONDS"))
    var delay: String?

    @Option(help: ArgumentHelp("Record every tag read and write in FILE (cpppo's history format, as its historize example writes).", valueName: "FILE.hst"))
    var historize: String?

    @Option(help: ArgumentHelp("Replay the tag values recorded in FILE (and its rotated files) into the tags as the server runs.", valueName: "FILE.hst"))
    var playback: String?

    @Option(help: "The pace of --playback: 1 as recorded, 10 ten times faster, 0 as fast as possible.")
    var playbackSpeed = 1.0

    @Flag(name: [.customShort("A"), .long], help: "Print the addresses served as cpppo does: Network TCP Server address = ('HOST', PORT), and UDP.")
    var addressOutput = false

    @Flag(help: "Take a write of a narrower type (INT values into a DINT tag, SINT into INT, integers into REAL) as cpppo's server does; a Logix controller refuses it (0xFF, 0x2107), and so does fieldgw without this.")
    var widenWrites = false

    @Argument(help: "Tags: NAME=TYPE[DIMENSIONS] (NAME alone: one INT), placed at @2/1/1, @2/1/2, ... unless NAME@CLASS/INSTANCE/ATTRIBUTE.")
    var tags: [String] = []

    @Option(name: .customLong("assembly"), help: ArgumentHelp("An assembly (class 4) Class 1 connections exchange: INSTANCE=ROLE:SIZE, ROLE input, output or configuration, SIZE in bytes. May be repeated.", valueName: "SPEC"))
    var assemblies: [String] = []

    @Option(name: .customLong("io"), help: ArgumentHelp("[HOST]:PORT of the UDP socket Class 1 packets come to (default: the -a host, port 2222).", valueName: "ADDRESS"))
    var ioAddress: String?

    @Option(help: "The UDP port Class 1 inputs are sent to on the originator's host.")
    var ioDestinationPort: UInt16 = 2222

    @Option(help: ArgumentHelp("How long before each input packet is due the I/O thread stops sleeping and spins (0-5000; a wake from sleep can be a millisecond late on a virtual machine).", valueName: "MICROSECONDS"))
    var ioSpin: Int = Configuration.IO.defaultSpin

    /// `--delay 0.5` or `--delay 0.1-0.9`.
    private func delayRange() throws -> ClosedRange<Double>? {
        guard let delay else { return nil }
        let bounds = delay.split(separator: "-").map { Double($0) }
        guard (1...2).contains(bounds.count), let low = bounds.first!, let high = bounds.last!, low >= 0, low <= high, high <= 3600 else {
            throw ValidationError("--delay: \"\(delay)\" is not SECONDS or LOW-HIGH (up to 3600)")
        }
        return low...high
    }

    @Option(name: .long, help: "Threads serving EtherNet/IP clients (the kernel shares connections among them; a tag's work runs on its client's thread).")
    var threads = 1

    @Option(name: [.short, .long], help: "[HOST]:PORT to serve cpppo's web API (/api/<group>/<match>/<command>/<value>) and /metrics (Prometheus) on; loopback unless a host is given.")
    var web: String?

    func run() async throws {
        let historian = try historize.map { path in
            do {
                return TagHistorian(writer: try HistoryWriter(path: path), logger: Logger(label: "fieldgw.enip-server"))
            } catch { throw ValidationError("--historize: \(error)") }
        }
        var table = TagTable()
        for definition in structures {
            do { try table.addStructure(definition: definition) } catch { throw ValidationError("--struct \(error.description)") }
        }
        for definition in tags {
            do { try table.add(definition: definition, hook: historian) } catch { throw ValidationError(error.description) }
        }
        historian?.started(table.tags)
        let logger = try CpppoLog(verbose: verbose, path: log, logger: "enip.srv")
        for tag in table.tags {
            logger.write(.normal, "main", "New Tag: \(TagResult.left(tag.name, 24)) \(TagResult.right(tag.type.name, 10))[\(TagResult.right("\(tag.count)", 4))]")
        }
        let (host, port) = try Console.endpoint(address, defaultPort: 44818)
        let printing = print && !noPrint
        var report: (@Sendable (String) -> Void)?
        var tagReport: (@Sendable (String) -> Void)?
        if printing {
            report = { (line: String) in Console.say("enip-server: " + line) }
            tagReport = { (line: String) in Console.say(line) }
        }
        let delay = try delayRange()
        try Console.checkThreads(threads)
        let limits = ENIPServer.Limits(threads: threads)
        let metricsAddress = try web.map { try Console.endpoint($0, option: "--web", defaultPort: 8502, loopback: true) }
        let stop = await StopSignal()
        let registry = PrometheusCollectorRegistry.bootstrapped()
        let io = try exchange(host: host, report: report)
        try await CommandFailure.reporting("enip-server") {
            let router = MessageRouter(tags: table, io: io, report: tagReport, reportReads: verbose > 0,
                                       widenWrites: widenWrites, metrics: ServerMetrics(server: "\(host):\(port)"))
            let server = try await Console.listening("EtherNet/IP", host, port) {
                try await ENIPServer.start(host: host, port: port, router: router, group: MultiThreadedEventLoopGroup.singleton, delay: delay,
                                           limits: limits)
            }
            Console.say("enip-server: EtherNet/IP on \(host):\(server.port)")
            logger.write(.normal, "main", "EtherNet/IP Simulator: ('\(host)', \(server.port))")
            if addressOutput {
                Console.say("Network TCP Server address = ('\(host)', \(server.port))")
                Console.say("Network UDP Server address = ('\(host)', \(server.port))")
            }
            if let io { Console.say("enip-server: Class 1 I/O on \(host):\(io.port) (UDP), inputs to port \(io.destinationPort)") }
            let replay = try playback.map { path in
                do { return try startPlayback(path, into: table) } catch { throw CommandFailure("--playback: \(error)") }
            }
            defer { replay?.cancel() }
            let api = SimulatorAPI.enip(server: server, tags: table, host: host) { stop.trigger("server/control/done") }
            try await Serving.run("enip-server", parts: [Part("EtherNet/IP", stop: { try? await server.close() })], web: metricsAddress,
                                  registry: registry, stop: stop, simulator: api)
        }
    }

    /// The assemblies of `--assembly`, served through an I/O socket; nil without them.
    private func exchange(host: String, report: (@Sendable (String) -> Void)?) throws -> IOExchange? {
        guard !assemblies.isEmpty else { return nil }
        let set = AssemblySet(try assemblies.map { try Self.assembly($0, report: report) })
        let (bindHost, bindPort) = try ioAddress.map { try Console.endpoint($0, option: "--io", defaultPort: 2222) } ?? (host, 2222)
        guard (0...5_000).contains(ioSpin) else { throw ValidationError("--io-spin: \(ioSpin) is not 0-5000 microseconds") }
        do {
            return try IOExchange(assemblies: set, host: bindHost, port: bindPort, destinationPort: ioDestinationPort,
                                  spin: .microseconds(ioSpin))
        } catch {
            throw CommandFailure("--io: \(error)")
        }
    }

    /// `100=input:8`: an assembly; `--print` reports what the PLC writes to outputs.
    private static func assembly(_ spec: String, report: (@Sendable (String) -> Void)?) throws -> Assembly {
        let parts = spec.split(separator: "=", maxSplits: 1)
        let rest = parts.count == 2 ? parts[1].split(separator: ":") : []
        guard parts.count == 2, let instance = UInt32(parts[0]), (1...0xFFFF).contains(instance), rest.count == 2,
              let role = Assembly.Role(rawValue: String(rest[0])), let size = Int(rest[1]), (0...496).contains(size) else {
            throw ValidationError("--assembly: \"\(spec)\" is not INSTANCE=ROLE:SIZE (ROLE input, output or configuration; SIZE 0-496 bytes)")
        }
        var written: (@Sendable ([UInt8]) -> Void)?
        if let report {
            written = { (data: [UInt8]) in report("assembly \(instance) <= " + Self.hex(data)) }
        }
        return Assembly(instance: instance, role: role, size: size, written: written)
    }

    private static func hex(_ data: [UInt8]) -> String {
        data.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    /// Replays `path`'s tag records into the table's tags, saying when done.
    private func startPlayback(_ path: String, into table: TagTable) throws -> Task<Void, Never> {
        let playback = Playback(files: try HistoryFiles(path: path), speed: max(playbackSpeed, 0))
        return Task {
            do {
                let report = try await playback.run { record in
                    guard let (name, first, values) = record.tagValues, let tag = table.tag(named: name),
                          first <= tag.count - values.count else { return false }
                    tag.set(values, from: first)
                    return true
                }
                Console.say("enip-server: playback: \(report.applied) records applied, \(report.skipped) skipped")
            } catch is CancellationError {
            } catch {
                Console.say("enip-server: playback stopped: \(error)")
            }
        }
    }
}
