import ArgumentParser
import Foundation

@main
struct FieldGW: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fieldgw",
        abstract: "A serial-line field gateway: Modbus/RTU lines on Modbus/TCP and EtherNet/IP, and the tools around them.",
        version: FieldGW.version,
        subcommands: [RegexCommand.self, DiscoverCommand.self, ModbusSimCommand.self, ModbusClientCommand.self, ENIPServerCommand.self, ENIPClientCommand.self, GetAttributeCommand.self, GatewayCommand.self, StatusCommand.self, ReloadCommand.self, WebPasswordCommand.self, HistoryCommand.self, PlaybackCommand.self, DemoCommand.self, EDSCommand.self]
    )

    /// Runs the command. A mistake in the arguments exits 2, as argparse's
    /// (cpppo's) and most Unix tools' do: scripts written for cpppo test for it.
    static func main() async {
        do {
            var command = try parseAsRoot(cpppoForms(Array(CommandLine.arguments.dropFirst())))
            if var asynchronous = command as? AsyncParsableCommand { try await asynchronous.run() } else { try command.run() }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            if !(error is ExitCode) { FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8)) }
            Foundation.exit(2)
        }
    }

    /// cpppo's `enip_client --multiple=N` (and fieldgw's `--multiple N`) beside
    /// its `-m`/`--multiple` flag: the size goes to `--multiple-bytes`.
    static func cpppoForms(_ arguments: [String]) -> [String] {
        guard arguments.first == "enip-client" || arguments.first == "get-attribute" else { return arguments }
        var out: [String] = []
        for argument in arguments {
            if argument.hasPrefix("--multiple=") {
                out.append("--multiple-bytes=" + argument.dropFirst("--multiple=".count))
            } else if out.last == "--multiple", !argument.isEmpty, argument.allSatisfy(\.isNumber) {
                out[out.count - 1] = "--multiple-bytes"
                out.append(argument)
            } else {
                out.append(argument)
            }
        }
        return out
    }

    /// What `--version` prints: the version, the commit and the toolchain (from the BuildInfo plugin).
    static var version: String {
        "fieldgw \(BuildInfo.version)\ncommit \(BuildInfo.commit)\nbuilt with \(BuildInfo.swift)"
    }
}
