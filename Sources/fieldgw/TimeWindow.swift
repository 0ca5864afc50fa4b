import ArgumentParser
import History

/// `--from`, `--to` and `--region` of the commands that read history
/// (`history`, `playback`).
struct TimeWindow: ParsableArguments {
    @Option(help: ArgumentHelp("Only records at or after TIME (YYYY-MM-DD HH:MM:SS[.sss] [ZONE]; UTC unless a zone follows).", valueName: "TIME"))
    var from: String?

    @Option(help: ArgumentHelp("Only records at or before TIME.", valueName: "TIME"))
    var to: String?

    @Option(help: ArgumentHelp("Accept the zone abbreviations of REGION (a country code such as CA, or a zone prefix such as Europe). May be repeated.", valueName: "REGION"))
    var region: [String] = []

    /// The region's abbreviations made known, then the window's ends.
    func bounds() throws -> (from: Timestamp?, to: Timestamp?) {
        if !region.isEmpty { try ZoneAbbreviations.shared.support(region) }
        return (try from.map { try Timestamp(parsing: $0) }, try to.map { try Timestamp(parsing: $0) })
    }
}
