import ArgumentParser
import EtherNetIP
import Foundation
import NIOPosix

/// cpppo's `python -m cpppo.server.enip.get_attribute`: Get Attribute
/// Single/All and Set Attribute Single on numeric addresses, with its
/// options and its output.
struct GetAttributeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-attribute",
        abstract: "Get and set CIP attributes (Get Attribute Single/All, Set Attribute Single), as cpppo's get_attribute does.",
        discussion: """
            Each OPERATION is @CLASS/INSTANCE (Get Attributes All), @CLASS/INSTANCE/ATTRIBUTE \
            (Get Attribute Single) or @CLASS/INSTANCE/ATTRIBUTE=(TYPE)VALUE,... (Set Attribute Single); \
            - reads operations from stdin. Each result prints as cpppo prints it, the data as decimal bytes:
              Mon Nov 30 07:52:10 2026:   1: Single G_A_S      @0x0001/1/7 == [20, 49, 55, ...]
            The exit status is 1 when an operation failed, 2 for a usage mistake.
            Example: fieldgw get-attribute -a 127.0.0.1 --depth 3 '@1/1' '@1/1/7'
            """
    )

    @Option(name: [.short, .long], help: "HOST[:PORT] of the device (port 44818 by default).")
    var address = "127.0.0.1"

    @Flag(name: .long, help: "Print each result (the default).")
    var print = false

    @Flag(name: .customLong("no-print"), help: "Print nothing on stdout.")
    var noPrint = false

    @Flag(name: [.short, .long], help: "Pack operations into Multiple Service Packets of about 500 bytes (--multiple=BYTES for another size).")
    var multiple = false

    @Option(name: .customLong("multiple-bytes"), help: .hidden)
    var multipleBytes: Int?

    @Option(name: [.short, .long], help: "Requests in flight at once (pipelining).")
    var depth = 1

    @Option(name: [.short, .long], help: "Seconds to wait for each reply.")
    var timeout = 5.0

    @Flag(name: [.short, .long], help: "Log cpppo's NORMAL lines too (on stderr): requests, time and TPS.")
    var verbose: Int

    @Option(name: [.short, .long], help: ArgumentHelp("Write the log lines to FILE instead of stderr.", valueName: "FILE"))
    var log: String?

    @Argument(help: "Operations: @CLASS/INSTANCE[/ATTRIBUTE][=(TYPE)VALUES]; - reads them from stdin.")
    var operations: [String]

    func validate() throws {
        guard depth >= 1, (multipleBytes ?? 0) >= 0, timeout > 0 else {
            throw ValidationError("--depth must be at least 1, --multiple not negative, --timeout above 0")
        }
    }

    func run() async throws {
        let (host, port) = try Console.endpoint(address, defaultPort: 44818)
        let logger = try CpppoLog(verbose: verbose, path: log, logger: "enip.get")
        var parsed: [TagOperation] = []
        for text in ENIPClientCommand.withStdin(operations) {
            let operation: TagOperation
            do { operation = try TagOperation(parsing: text, attributeServices: true) } catch { throw ValidationError(error.description) }
            guard operation.attributeServices else { throw ValidationError("\"\(text)\": not a numeric address @CLASS/INSTANCE[/ATTRIBUTE]") }
            parsed.append(operation)
        }
        let packet = ENIPClientCommand.packetBytes(multiple: multiple, bytes: multipleBytes)
        let client = try await ENIPClient.connect(host: host, port: port, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(timeout))
        let start = ContinuousClock.now
        var failed = 0, index = 0
        do {
            for try await result in client.perform(parsed, depth: depth, multiple: packet) {
                if result.status != .success { failed += 1 }
                if !noPrint { Swift.print("\(CpppoLog.ctime()): \(TagResult.right("\(index)", 3)): \(result.cpppoAttributeLine(multiple: packet > 0))") }
                index += 1
            }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        let seconds = max((ContinuousClock.now - start) / .seconds(1), 1e-9)
        logger.write(.normal, "main", String(format: "%3d requests in %7.3fs at pipeline depth %2d; %7.3f TPS", index, seconds, depth, Double(index) / seconds))
        if failed > 0 { throw ExitCode(1) }
    }
}
