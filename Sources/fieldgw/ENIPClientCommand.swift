import ArgumentParser
import EtherNetIP
import Foundation
import Modbus
import NIOPosix

struct ENIPClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enip-client",
        abstract: "Read and write Logix tags over EtherNet/IP, with cpppo's operation syntax and options.",
        discussion: """
            Each OPERATION is TAG, TAG[i], TAG[a-b] (a range), TAG[i,j] (dimensions), TAG.MEMBER, \
            with =VALUE,VALUE... to write (REAL when a value has a '.', else INT; cast with \
            =(DINT)1,2,3), or @CLASS/INSTANCE/ATTRIBUTE[i] (read and written with Read/Write Tag, \
            as cpppo's client does; `get-attribute` uses Get/Set Attribute). - reads operations from stdin.
            -p prints cpppo's lines; otherwise each result and a summary line. The exit status is 1 \
            when an operation failed (with -p, as cpppo has it, only a failed read counts), 2 for a usage mistake.
            Example: fieldgw enip-client -a 127.0.0.1 SCADA[1]=99 SCADA[0-10] --depth 4 --multiple
            """
    )

    @Option(name: [.short, .long], help: "HOST[:PORT] of the controller (port 44818 by default).")
    var address = "127.0.0.1"

    @Option(name: [.short, .long], help: "Requests in flight at once (pipelining).")
    var depth = 1

    @Flag(name: [.short, .long], help: "Pack operations into Multiple Service Packets of about 500 bytes (--multiple=BYTES for another size).")
    var multiple = false

    @Option(name: .customLong("multiple-bytes"), help: .hidden)
    var multipleBytes: Int?

    @Flag(name: [.short, .long], help: "Always use Read/Write Tag Fragmented.")
    var fragment = false

    @Flag(name: [.short, .customLong("no-fragment")], help: "Use plain Read/Write Tag (the default; as cpppo's README has it).")
    var noFragment = false

    @Option(name: [.short, .customLong("repeat")], help: "Carry out the operations this many times.")
    var repeatCount = 1

    @Option(name: [.short, .long], help: "Seconds to wait for each reply.")
    var timeout = 5.0

    @Flag(name: [.short, .long], help: "Open a connection (Forward Open) and send connected messages.")
    var connected = false

    @Flag(name: .long, help: "List the controller's tags.")
    var listTags = false

    @Flag(name: .long, help: "Broadcast ListIdentity on the port and list who answers.")
    var discover = false

    @Flag(name: [.short, .long], help: "Print cpppo's line for each operation, and nothing else on stdout.")
    var print = false

    @Flag(name: .customLong("no-print"), help: "Print nothing on stdout.")
    var noPrint = false

    @Flag(name: [.short, .long], help: "Print only the summary line, not each result.")
    var quiet = false

    @Flag(name: [.short, .long], help: "Log cpppo's NORMAL lines too (on stderr): the summary, Client Tag I/O  Average ... TPS.")
    var verbose: Int

    @Option(name: [.short, .long], help: ArgumentHelp("Write the log lines to FILE instead of stderr.", valueName: "FILE"))
    var log: String?

    @Argument(help: "Operations: TAG[RANGE][=VALUES] or @CLASS/INSTANCE/ATTRIBUTE[RANGE][=VALUES]; - reads them from stdin.")
    var operations: [String] = []

    func validate() throws {
        guard depth >= 1, (multipleBytes ?? 0) >= 0, repeatCount >= 1, timeout > 0 else {
            throw ValidationError("--depth and --repeat must be at least 1, --multiple not negative, --timeout above 0")
        }
        guard !operations.isEmpty || listTags || discover else { throw ValidationError("give operations, --list-tags or --discover") }
    }

    private var packetBytes: Int { Self.packetBytes(multiple: multiple, bytes: multipleBytes) }

    /// The Multiple Service Packet size: cpppo's -m asks for about 500 bytes,
    /// `--multiple=N` for N, neither for none (0).
    static func packetBytes(multiple: Bool, bytes: Int?) -> Int { bytes ?? (multiple ? 500 : 0) }

    func run() async throws {
        let (host, port) = try Console.endpoint(address, defaultPort: 44818)
        if discover {
            let broadcast = ["127.0.0.1", "localhost"].contains(host) ? "255.255.255.255" : host
            for device in try await ENIPClient.discover(host: broadcast, port: port, group: MultiThreadedEventLoopGroup.singleton) { Swift.print(device) }
            return
        }
        let logger = try CpppoLog(verbose: verbose, path: log, logger: "enip.cli")
        let parsed: [TagOperation]
        do { parsed = try Self.withStdin(operations).map { text throws(TagOperationError) in try TagOperation(parsing: text) } } catch {
            throw ValidationError(error.description)
        }
        let client = try await ENIPClient.connect(host: host, port: port, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(timeout))
        do {
            if connected { try await client.forwardOpen() }
            if listTags {
                for tag in try await client.listTags() { Swift.print("\(tag.name)  \(tag.typeDescription)  (instance \(tag.instance))") }
            }
            try await perform(Array(repeating: parsed, count: repeatCount).flatMap { $0 }, on: client, log: logger)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }

    /// The operations with `-` replaced by the lines of stdin, as cpppo reads them.
    static func withStdin(_ operations: [String]) -> [String] {
        guard let minus = operations.firstIndex(of: "-") else { return operations }
        var lines: [String] = []
        while let line = readLine() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if !text.isEmpty { lines.append(text) }
        }
        return Array(operations[..<minus]) + lines + Array(operations[(minus + 1)...])
    }

    /// A fieldgw gateway answers a write the slave refused, or could not
    /// carry, with CIP 0x1F and the Modbus exception code as extended status:
    /// said in words.
    static func explained(_ result: TagResult) -> String {
        guard result.status.general == 0x1F, result.status.extended.count == 1, let code = UInt8(exactly: result.status.extended[0]) else {
            return "\(result)"
        }
        let meaning: String? = switch ExceptionCode(rawValue: code) {
        case .illegalFunction: "the slave refused the function (Modbus exception 1)"
        case .illegalDataAddress: "the slave has no such register (Modbus exception 2)"
        case .illegalDataValue: "the slave refused the value (Modbus exception 3)"
        case .serverDeviceFailure: "the slave failed (Modbus exception 4)"
        case .serverBusy: "the slave is busy (Modbus exception 6)"
        case .gatewayPathUnavailable: "gateway path unavailable: the line is down (Modbus exception 0x0A)"
        case .gatewayTargetFailed: "the slave did not answer (Modbus exception 0x0B)"
        default: nil
        }
        return meaning.map { "\(result): \($0)" } ?? "\(result)"
    }

    private func perform(_ all: [TagOperation], on client: ENIPClient, log: CpppoLog) async throws {
        guard !all.isEmpty else { return }
        let start = ContinuousClock.now
        var failed = 0, failedReads = 0
        for try await result in client.perform(all, depth: depth, multiple: packetBytes, fragment: fragment) {
            if result.status != .success {
                failed += 1
                if result.operation.write == nil { failedReads += 1 }
                if print {
                    let request = result.cpppoRequest(multiple: packetBytes > 0, fragment: fragment)
                    log.write(.warning, "validate", "Client \(request) returned non-zero status: \(result.cpppoStatusText)")
                }
            }
            if print { Swift.print(result.cpppoLine) } else if !quiet && !noPrint { Swift.print(Self.explained(result)) }
        }
        let seconds = max((ContinuousClock.now - start) / .seconds(1), 1e-9)
        log.write(.normal, "main", String(format: "Client Tag I/O  Average %7.3f TPS (%7.3fs ea).", Double(all.count) / seconds, seconds / Double(all.count)))
        if !print && !noPrint {
            Swift.print(String(format: "enip-client: %d operations (%d failed) in %.3f s: %.0f TPS (%.3f ms each)",
                               all.count, failed, seconds, Double(all.count) / seconds, seconds * 1000 / Double(all.count)))
        }
        // cpppo counts a write that failed only when not printing (-p fills in the values written).
        if (print ? failedReads : failed) > 0 { throw ExitCode(1) }
    }
}
