import Foundation
import Logging
import Synchronization

/// Zone abbreviations ("MST", "MDT", "CEST") that name one zone and, where
/// they can, one side of its daylight time: cpppo's
/// `timestamp.support_abbreviations`. An abbreviation is added only when every
/// zone that uses it agrees on its offset (and, for a daylight one, on every
/// change within `reach` of `at`); "IST" cannot mean Dublin and Jerusalem at once.
public final class ZoneAbbreviations: Sendable {
    /// What an abbreviation stands for: the zone, and whether it names daylight
    /// time (`nil` when the zone's daylight and standard times share it).
    public struct Meaning: Sendable {
        public var zone: ZoneInfo
        public var isDST: Bool?
        public var offset: Int
    }

    /// The table `Timestamp` consults unless given another.
    public static let shared = ZoneAbbreviations()

    public let database: ZoneDatabase
    private let table = Mutex<[String: Meaning]>([:])
    private let logger: Logger

    public init(database: ZoneDatabase = .system, logger: Logger = Logger(label: "fieldgw.history")) {
        self.database = database
        self.logger = logger
    }

    public var all: [String: Meaning] { table.withLock { $0 } }

    public func meaning(_ abbreviation: String) -> Meaning? { table.withLock { $0[abbreviation] } }

    public func reset() { table.withLock { $0 = [:] } }

    /// Adds the abbreviations of `regions` (country codes such as "CA", zone
    /// prefixes such as "Europe", or zones), less `exclude` (zones or
    /// abbreviations). With `first` an abbreviation two zones define
    /// differently keeps its first meaning (logged); without it the call adds
    /// nothing and throws an error naming the zones. Returns what was added.
    @discardableResult
    public func support(_ regions: [String], exclude: [String] = [], at: Date = Date(), reach: TimeInterval = 365.0 / 2 * 86_400,
                        reset: Bool = false, first: Bool = true) throws -> [String] {
        let excluded = Set(zoneNames(exclude))
        let window = Int64((at.timeIntervalSince1970 - reach).rounded())...Int64((at.timeIntervalSince1970 + reach).rounded())
        return try table.withLock { table in
            var updated = reset ? [:] : table
            var incompatible: [String] = []
            for name in zoneNames(regions) where !excluded.contains(name) {
                let zone = try database.zone(name)
                for (type, isDST) in details(zone, window: window, at: at) {
                    guard type.abbreviation.allSatisfy(\.isLetter), !excluded.contains(type.abbreviation) else { continue }
                    if let problem = conflict(type, isDST: isDST, zone: zone, in: updated, window: window) {
                        incompatible.append("\(name): \(problem)")
                        logger.warning("time zone abbreviation conflict", metadata: ["zone": "\(name)", "problem": "\(problem)"])
                    } else if replaces(type, isDST: isDST, in: updated) {
                        updated[type.abbreviation] = Meaning(zone: zone, isDST: isDST, offset: type.offset)
                    }
                }
            }
            if !incompatible.isEmpty, !first {
                throw AmbiguousZoneError(regions: regions, conflicts: incompatible)
            }
            let added = Set(updated.keys).subtracting(reset ? [] : Array(table.keys))
            table = updated
            return added.sorted()
        }
    }

    /// The zones a region names, as cpppo's `zone_names`: a country's zones, or
    /// the common zones starting with it, or the region itself.
    public func zoneNames(_ regions: [String]) -> [String] {
        regions.flatMap { region -> [String] in
            if let zones = database.zones(country: region) { return zones }
            let matching = database.commonZones.filter { $0.hasPrefix(region) }
            return matching.isEmpty ? [region] : matching
        }
    }

    /// The zone's time types around `at`: one when it does not change within
    /// the window, else the types a day either side of its first change there
    /// (one, with `isDST` nil, when both carry the same abbreviation).
    private func details(_ zone: ZoneInfo, window: ClosedRange<Int64>, at: Date) -> [(LocalTimeType, Bool?)] {
        guard let change = zone.changes(in: window).first else {
            let type = zone.type(at: Int64(at.timeIntervalSince1970))
            return [(type, type.isDST)]
        }
        let before = zone.type(at: change.instant - 86_400), after = zone.type(at: change.instant + 86_400)
        if before.abbreviation == after.abbreviation { return [(before, nil)] }
        return [(before, before.isDST), (after, after.isDST)]
    }

    /// Why `type` cannot share its abbreviation with the meaning already held, if it cannot.
    private func conflict(_ type: LocalTimeType, isDST: Bool?, zone: ZoneInfo, in table: [String: Meaning],
                          window: ClosedRange<Int64>) -> String? {
        guard let held = table[type.abbreviation] else { return nil }
        guard isDST == true else {
            return held.offset == type.offset ? nil
                : "\(type.abbreviation) \(Offset.format(type.offset)) x \(Offset.format(held.offset)) in \(held.zone.name); incompatible"
        }
        let ours = zone.changes(in: window), theirs = held.zone.changes(in: window)
        guard ours.count == theirs.count else {
            return "\(type.abbreviation) has \(ours.count) time changes vs. \(theirs.count) in \(held.zone.name)"
        }
        let same = zip(ours, theirs).allSatisfy {
            $0.instant == $1.instant && $0.type.offset == $1.type.offset && $0.type.isDST == $1.type.isDST
        }
        return same ? nil : "\(type.abbreviation) time changes differ vs. \(held.zone.name)"
    }

    /// Whether a compatible `type` takes the abbreviation: when it is new, or
    /// when it replaces an ambiguous meaning with a concrete standard one.
    private func replaces(_ type: LocalTimeType, isDST: Bool?, in table: [String: Meaning]) -> Bool {
        guard let held = table[type.abbreviation] else { return true }
        return isDST == false && held.isDST == nil
    }
}

/// Two or more zones give one abbreviation different meanings.
public struct AmbiguousZoneError: Error, CustomStringConvertible, Sendable {
    public var regions: [String]
    public var conflicts: [String]
    public var description: String {
        "time zone abbreviations of \(regions.joined(separator: ", ")) are ambiguous: \(conflicts.joined(separator: "; "))"
    }
}

/// cpppo's `format_offset` and `parse_offset`: "<h:mm:ss.sss" / ">h:mm:ss.sss".
public enum Offset {
    public static func format(_ seconds: Int) -> String {
        let magnitude = abs(seconds)
        let text = "\(magnitude / 3600):" + pad(magnitude % 3600 / 60) + ":" + pad(magnitude % 60)
        return (seconds < 0 ? "<" : ">") + (magnitude / 3600 < 10 ? " " : "") + text
    }

    /// "< 1:00:00.001" is -3600.001; "<:1.001", ">1:0.001", ">1" as cpppo allows.
    public static func parse(_ text: String) throws -> Double {
        let trimmed = text.drop { $0 == " " }
        guard let sign = trimmed.first, sign == "<" || sign == ">" else {
            throw HistoryError("invalid offset \"\(text)\": must be </>[[h:]m:]s[.s]")
        }
        var parts = trimmed.dropFirst().split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        while parts.first == "" { parts.removeFirst() }
        guard (1...3).contains(parts.count) else { throw HistoryError("invalid offset \"\(text)\": only h:mm:ss.s allowed") }
        var total = 0.0
        for part in parts {
            guard let value = Double(part) else { throw HistoryError("invalid offset \"\(text)\": \"\(part)\" is not a number") }
            total = total * 60 + value
        }
        return sign == "<" ? -total : total
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
