import ArgumentParser
import EtherNetIP
import Foundation
import Modbus
import NIOPosix

struct ENIPClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enip-client",
        abstract: "Read and write Logix tags over EtherNet/IP, with cpppo's operation syntax.",
        discussion: """
            Each OPERATION is TAG, TAG[i], TAG[a-b] (a range), TAG[i,j] (dimensions), TAG.MEMBER, \
            with =VALUE,VALUE... to write (REAL when a value has a '.', else INT; cast with \
            =(DINT)1,2,3), or @CLASS/INSTANCE[/ATTRIBUTE] to get attributes.
            Example: fieldgw enip-client -a 127.0.0.1 SCADA[1]=99 SCADA[0-10] --depth 4 --multiple 400
            """
    )

    @Option(name: [.short, .long], help: "HOST[:PORT] of the controller (port 44818 by default).")
    var address = "127.0.0.1"

    @Option(name: [.short, .long], help: "Requests in flight at once (pipelining).")
    var depth = 1

    @Option(name: [.short, .long], help: "Pack operations into Multiple Service Packets of up to this many bytes (0: no).")
    var multiple = 0

    @Flag(name: [.short, .long], help: "Always use Read/Write Tag Fragmented.")
    var fragment = false

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

    @Flag(name: [.short, .long], help: "Print only the summary line, not each result.")
    var quiet = false

    @Argument(help: "Operations: TAG[RANGE][=VALUES] or @CLASS/INSTANCE[/ATTRIBUTE].")
    var operations: [String] = []

    func validate() throws {
        guard depth >= 1, multiple >= 0, repeatCount >= 1, timeout > 0 else {
            throw ValidationError("--depth and --repeat must be at least 1, --multiple not negative, --timeout above 0")
        }
        guard !operations.isEmpty || listTags || discover else { throw ValidationError("give operations, --list-tags or --discover") }
    }

    func run() async throws {
        let (host, port) = try Console.endpoint(address, defaultPort: 44818)
        if discover {
            let broadcast = ["127.0.0.1", "localhost"].contains(host) ? "255.255.255.255" : host
            for device in try await ENIPClient.discover(host: broadcast, port: port, group: MultiThreadedEventLoopGroup.singleton) { print(device) }
            return
        }
        let parsed: [TagOperation]
        do { parsed = try operations.map { text throws(TagOperationError) in try TagOperation(parsing: text) } } catch {
            throw ValidationError(error.description)
        }
        let client = try await ENIPClient.connect(host: host, port: port, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(timeout))
        do {
            if connected { try await client.forwardOpen() }
            if listTags {
                for tag in try await client.listTags() { print("\(tag.name)  \(tag.typeDescription)  (instance \(tag.instance))") }
            }
            try await perform(Array(repeating: parsed, count: repeatCount).flatMap { $0 }, on: client)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
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

    private func perform(_ all: [TagOperation], on client: ENIPClient) async throws {
        guard !all.isEmpty else { return }
        let start = ContinuousClock.now
        var failed = 0
        for try await result in client.perform(all, depth: depth, multiple: multiple, fragment: fragment) {
            if result.status != .success { failed += 1 }
            if !quiet { print(Self.explained(result)) }
        }
        let seconds = max((ContinuousClock.now - start) / .seconds(1), 1e-9)
        print(String(format: "enip-client: %d operations (%d failed) in %.3f s: %.0f TPS (%.3f ms each)",
                     all.count, failed, seconds, Double(all.count) / seconds, seconds * 1000 / Double(all.count)))
        if failed > 0 { throw ExitCode(1) }
    }
}
