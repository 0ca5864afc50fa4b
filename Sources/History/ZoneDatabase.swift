import Foundation
import Synchronization

/// The system's time zone database (`TZDIR`, else /usr/share/zoneinfo): zones
/// by name, the zones of each country (zone.tab), and the local zone.
public final class ZoneDatabase: Sendable {
    public static let system = ZoneDatabase(directory: ProcessInfo.processInfo.environment["TZDIR"] ?? "/usr/share/zoneinfo")

    public let directory: String
    private let loaded = Mutex<[String: ZoneInfo]>([:])
    private let table = Mutex<(countries: [String: [String]], zones: [String])?>(nil)

    public init(directory: String) {
        self.directory = directory
    }

    /// The zone called `name` ("America/Edmonton", "UTC", "MST").
    public func zone(_ name: String) throws(ZoneError) -> ZoneInfo {
        if let zone = loaded.withLock({ $0[name] }) { return zone }
        guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains(".."),
              let data = FileManager.default.contents(atPath: directory + "/" + name) else {
            throw ZoneError("unknown time zone \"\(name)\" (no file \(directory)/\(name))")
        }
        let zone = try ZoneInfo(name: name, tzif: Array(data))
        loaded.withLock { $0[name] = zone }
        return zone
    }

    /// The zones of a country by its ISO 3166 code ("CA"), as zone.tab lists them.
    public func zones(country: String) -> [String]? { readTable().countries[country] }

    /// Every zone zone.tab lists, sorted, with "UTC" and "GMT" (pytz's common zones).
    public var commonZones: [String] { readTable().zones }

    /// The local zone: `TZ` (a zone name or a TZif file), else /etc/timezone,
    /// else the zone /etc/localtime links to, else UTC.
    public func localZone() throws(ZoneError) -> ZoneInfo {
        let environment = ProcessInfo.processInfo.environment
        if let tz = environment["TZ"], !tz.isEmpty {
            let name = tz.hasPrefix(":") ? String(tz.dropFirst()) : tz
            if name.hasPrefix("/"), let data = FileManager.default.contents(atPath: name) {
                return try ZoneInfo(name: name, tzif: Array(data))
            }
            return try zone(name)
        }
        if let text = try? String(contentsOfFile: "/etc/timezone", encoding: .utf8) {
            let name = text.split(separator: "#").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            if !name.isEmpty { return try zone(name.replacingOccurrences(of: " ", with: "_")) }
        }
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/etc/localtime"),
           let range = target.range(of: "zoneinfo/") {
            return try zone(String(target[range.upperBound...]))
        }
        return try zone("UTC")
    }

    private func readTable() -> (countries: [String: [String]], zones: [String]) {
        if let table = table.withLock({ $0 }) { return table }
        var countries: [String: [String]] = [:]
        var zones: Set<String> = ["UTC", "GMT"]
        let text = (try? String(contentsOfFile: directory + "/zone.tab", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 3 else { continue }
            countries[String(fields[0]), default: []].append(String(fields[2]))
            zones.insert(String(fields[2]))
        }
        let made = (countries, zones.sorted())
        table.withLock { $0 = made }
        return made
    }
}
