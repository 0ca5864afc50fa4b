import ArgumentParser
import Foundation
import Gateway

struct EDSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eds",
        abstract: "Write the Electronic Data Sheet of a gateway configuration's assemblies, for Studio 5000's EDS wizard or RSLinx.",
        discussion: """
            The sheet names the identity of [enip.identity], the assemblies of [[assembly]] with a \
            parameter per member, and the connections a PLC may open: an exclusive owner for each \
            output and input, and input-only (point 198) and listen-only (199) connections for each input.
            """
    )

    @Option(name: [.short, .long], help: "The gateway configuration.")
    var config = "/etc/fieldgw/fieldgw.toml"

    @Option(name: [.short, .long], help: "Write to FILE (default: standard output).")
    var output: String?

    func run() throws {
        try CommandFailure.reporting("eds") { try write() }
    }

    private func write() throws {
        let configuration = try Console.configuration(file: config)
        guard !configuration.assemblies.isEmpty else {
            throw CommandFailure("\(config): no [[assembly]]: there is no I/O to describe", status: CommandFailure.configuration)
        }
        let now = Date()
        let text = EDS.text(for: configuration, date: Self.stamp(now, "MM-dd-yyyy"), time: Self.stamp(now, "HH:mm:ss"))
        guard let output else { return print(text, terminator: "") }
        do {
            try text.write(toFile: output, atomically: true, encoding: .ascii)
        } catch {
            throw CommandFailure("--output \(output): \(error.localizedDescription)", status: 73)
        }
    }

    private static func stamp(_ date: Date, _ format: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = format
        return formatter.string(from: date)
    }
}
