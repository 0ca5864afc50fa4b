import ArgumentParser
import Foundation
import History

/// `fieldgw history`: reads a cpppo-compatible history file and its rotated,
/// compressed predecessors as one stream, in time order.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Print the records of a history file (.hst) and its rotated files, oldest first.",
        discussion: """
            Reads PATH, PATH.0, PATH.1.gz, ... (gzip, bzip2 or xz) as cpppo's history.reader does; \
            each record is printed as TIMESTAMP<TAB>SERIAL<TAB>DATA. Lines that cannot be read \
            (a truncated last line after a crash, garbage) are skipped and named on standard error.
            Times are "YYYY-MM-DD HH:MM:SS[.sss] [ZONE]", UTC unless a zone or an abbreviation \
            of a --region follows.
            Example: fieldgw history plant.hst --from "2014-04-01 10:00:00 MDT" --region CA --zone America/Edmonton
            """
    )

    @Argument(help: "The live history file's path (its rotated files are found beside it).")
    var path: String

    @OptionGroup var window: TimeWindow

    @Option(help: ArgumentHelp("Print times in ZONE (a zone name, or an abbreviation of a --region).", valueName: "ZONE"))
    var zone: String?

    func run() async throws {
        try await CommandFailure.reportingAny("history") {
            let (start, end) = try window.bounds()
            let files = try HistoryFiles(path: path)
            for problem in files.ignored { FileHandle.standardError.write(Data("fieldgw history: ignored \(problem)\n".utf8)) }
            let records = files.records(from: start, to: end)
            var output: [UInt8] = []
            for record in records {
                output += try record.time.render(zone: zone).utf8
                output += [0x09] + record.serial.utf8 + [0x09] + record.data.utf8 + [0x0A]
                if output.count > 1 << 16 { FileHandle.standardOutput.write(Data(output)); output.removeAll(keepingCapacity: true) }
            }
            FileHandle.standardOutput.write(Data(output))
            for problem in records.problems { FileHandle.standardError.write(Data("fieldgw history: skipped \(problem)\n".utf8)) }
        }
    }
}
