import Foundation

/// An instant as cpppo's `history.timestamp`: seconds since the Unix epoch
/// (microsecond resolution in a Double), rendered "2014-04-01 10:11:12.000"
/// in UTC, or in a zone with its abbreviation ("2014-04-01 04:11:12.000 MDT"),
/// and parsed back from either. Two timestamps nearer than `epsilon` (a
/// millisecond) compare equal, so that comparing values agrees with comparing
/// their default renderings.
public struct Timestamp: Sendable, Comparable, CustomStringConvertible {
    public static let precision = 3
    public static let epsilon = 0.001

    public var value: Double

    public init(_ value: Double) { self.value = value }

    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9)
    }

    /// "YYYY-MM-DD HH:MM:SS[.ssssss] [ZONE]": the zone a name ("America/Edmonton")
    /// or an abbreviation the table supports ("MDT"); without one, `zone`
    /// (default UTC). A time a zone skips or shows twice is an error unless a
    /// daylight-specific abbreviation says which is meant.
    public init(parsing text: some StringProtocol, zone: String? = nil, abbreviations: ZoneAbbreviations = .shared) throws {
        var fields = Timestamp.fields(text)
        var zoneName = zone
        if let last = fields.last, !last.allSatisfy(\.isNumber) {
            zoneName = String(last)
            fields.removeLast()
        }
        guard let wall = Timestamp.wall(fields) else {
            throw HistoryError("invalid time \"\(text)\"; expect YYYY-MM-DD HH:MM:SS[.###] [TZ]")
        }
        guard let zoneName, !Timestamp.isUTC(zoneName) else {
            value = Double(wall.seconds) + wall.fraction
            return
        }
        let (zone, isDST) = try Timestamp.resolve(zoneName, abbreviations)
        value = Double(try Timestamp.localize(wall.seconds, zone: zone, isDST: isDST, text: text)) + wall.fraction
    }

    public var description: String { render() }

    /// The time in UTC to milliseconds: cpppo's `timestamp.utc`.
    public var utc: String { render() }

    /// The time in `zone` ("America/Edmonton", a supported abbreviation, or nil
    /// for UTC) with `digits` (0...6) of the second; 0 truncates, more rounds.
    /// Outside UTC the zone is named after the time as `detail` says.
    public func render(zone: String? = nil, digits: Int = Timestamp.precision, detail: ZoneDetail = .abbreviation,
                       abbreviations: ZoneAbbreviations = .shared) throws -> String {
        guard let zone, !Timestamp.isUTC(zone) else { return render(digits: digits, detail: detail) }
        let info = try Timestamp.resolve(zone, abbreviations).zone
        return render(in: info, digits: digits, detail: detail)
    }

    /// The default rendering, appended as bytes (the historian's hot path).
    public func render(into bytes: ByteSink) {
        var cache = SecondCache()
        render(into: bytes, cache: &cache)
    }

    /// As `render(into:)`, reusing the date and time of day when the second is the cache's.
    public func render(into bytes: ByteSink, cache: inout SecondCache) {
        let scaled = value * 1000
        let units = scaled.rounded(.toNearestOrEven)
        guard units >= 0, value < Timestamp.latest, abs(abs(scaled - units) - 0.5) >= 1e-6 else {
            bytes.append(render())  // before 1970, or a near tie: the general path
            return
        }
        let total = Int64(units)
        cache.append(second: total / 1000, to: bytes)
        let millis = Int(total % 1000)
        let out = bytes.reserve(4)
        (out[0], out[1], out[2], out[3]) = (0x2E, 0x30 + UInt8(millis / 100), 0x30 + UInt8(millis / 10 % 10), 0x30 + UInt8(millis % 10))
        bytes.advance(4)
    }

    /// In UTC; " UTC" (or "+0000") follows only when `detail` asks for a name or offset.
    public func render(digits: Int = Timestamp.precision, detail: ZoneDetail = .abbreviation) -> String {
        let (seconds, fraction) = split(digits: digits)
        var text = Civil(instant: seconds).text + fraction
        switch detail {
        case .abbreviation: break
        case .name: text += " UTC"
        case .offset: text += "+0000"
        }
        return text
    }

    public func render(in zone: ZoneInfo, digits: Int = Timestamp.precision, detail: ZoneDetail = .abbreviation) -> String {
        let (seconds, fraction) = split(digits: digits)
        let type = zone.type(at: seconds)
        let text = Civil(instant: seconds + Int64(type.offset)).text + fraction
        switch detail {
        case .abbreviation: return text + " " + type.abbreviation
        case .name: return text + " " + zone.name
        case .offset: return text + Timestamp.numericOffset(type.offset)
        }
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.value + epsilon < rhs.value }
    public static func == (lhs: Timestamp, rhs: Timestamp) -> Bool { !(lhs < rhs) && !(rhs < lhs) }
    public static func + (lhs: Timestamp, rhs: Double) -> Timestamp { Timestamp(lhs.value + rhs) }
    public static func - (lhs: Timestamp, rhs: Double) -> Timestamp { Timestamp(lhs.value - rhs) }
    public static func - (lhs: Timestamp, rhs: Timestamp) -> Double { lhs.value - rhs.value }
}

/// How a rendered time outside UTC names its zone.
public enum ZoneDetail: Sendable {
    case abbreviation  // "MDT"
    case name  // "America/Edmonton"
    case offset  // "-0600"
}

/// What went wrong reading or writing history, a time or a value: what, where and why.
public struct HistoryError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }

    static func system(_ what: String, _ path: String) -> HistoryError {
        HistoryError("\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

extension Timestamp {
    /// Whole seconds and ".fff": rounded to `digits` as Python's "%.*f" rounds
    /// (cpppo rounds first, so .9998 shows the next second), truncated at 0.
    func split(digits: Int) -> (Int64, String) {
        let digits = min(max(digits, 0), 6)
        // Outside years 1 to 9999 (or not a number) there is no date to show: the nearest end of the range.
        let value = self.value.isNaN ? 0 : min(max(self.value, Timestamp.earliest), Timestamp.latest)
        guard digits > 0 else { return (Int64(value.rounded(.down)), "") }
        let scale = Timestamp.powers[digits]
        let scaled = value * Double(scale)
        var units = scaled.rounded(.toNearestOrEven)
        if abs(abs(scaled - units) - 0.5) < 1e-6, let exact = Double(String(format: "%.\(digits)f", value)) {
            units = (exact * Double(scale)).rounded()  // a near tie: let the exact decimal rounding decide
        }
        let total = Int64(units)
        let seconds = total >= 0 ? total / scale : (total - scale + 1) / scale
        var digitsText = String(total - seconds * scale)
        digitsText = String(repeating: "0", count: digits - digitsText.count) + digitsText
        return (seconds, "." + digitsText)
    }

    static let powers: [Int64] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000]
    /// 0001-01-01 00:00:00 and 9999-12-31 23:59:59 UTC.
    static let earliest = -62_135_596_800.0
    static let latest = 253_402_300_799.0

    static func isUTC(_ zone: String) -> Bool { zone == "UTC" || zone == "Etc/UTC" || zone == "UCT" || zone == "Zulu" }

    static func numericOffset(_ offset: Int) -> String {
        let magnitude = abs(offset) / 60
        let text = String(magnitude / 60 * 100 + magnitude % 60)
        return (offset < 0 ? "-" : "+") + String(repeating: "0", count: 4 - text.count) + text
    }

    /// The fields of "2014-04-01 10:11:12.345 MDT" split at ' ', ':', '-' and '.', as cpppo splits.
    static func fields(_ text: some StringProtocol) -> [Substring] {
        Substring(text).split { $0 == " " || $0 == ":" || $0 == "-" || $0 == "." || $0 == "\t" }
    }

    /// A naive date-time's seconds (read as UTC) and its fraction of a second.
    static func wall(_ fields: [Substring]) -> (seconds: Int64, fraction: Double)? {
        guard (6...7).contains(fields.count) else { return nil }
        var numbers: [Int] = []
        for field in fields.prefix(6) {
            guard field.allSatisfy(\.isASCII), let number = Int(field) else { return nil }
            numbers.append(number)
        }
        let civil = Civil(year: numbers[0], month: numbers[1], day: numbers[2], hour: numbers[3], minute: numbers[4], second: numbers[5])
        // Years 1 to 9999, as Python's datetime (found by fuzzing: a 14-digit year overflowed the arithmetic).
        guard (1...9999).contains(civil.year), civil.isValid else { return nil }
        var fraction = 0.0
        if fields.count == 7 {
            guard fields[6].count <= 6, fields[6].allSatisfy({ $0.isASCII && $0.isNumber }), let micro = Int(fields[6]) else { return nil }
            fraction = Double(micro * Int(powers[6 - fields[6].count])) / 1e6
        }
        return (civil.instant, fraction)
    }

    /// A zone by abbreviation (with its daylight side) or by name.
    static func resolve(_ name: String, _ abbreviations: ZoneAbbreviations) throws -> (zone: ZoneInfo, isDST: Bool?) {
        if let meaning = abbreviations.meaning(name) { return (meaning.zone, meaning.isDST) }
        return (try abbreviations.database.zone(name), nil)
    }

    /// The UTC second a zone's wall clock shows `wall`, as pytz's `localize`:
    /// in an overlap `isDST` picks the side, in a gap `isDST` false reads the
    /// time on the clock before the gap and true on the clock after it.
    static func localize(_ wall: Int64, zone: ZoneInfo, isDST: Bool?, text: some StringProtocol) throws -> Int64 {
        let candidates = zone.candidates(wall: wall)
        if candidates.count == 1 { return wall - Int64(candidates[0].offset) }
        if candidates.isEmpty {
            guard let isDST else { throw HistoryError("invalid time \"\(text)\": NonExistentTimeError: \(zone.name) skips it") }
            let shift: Int64 = isDST ? 6 * 3600 : -6 * 3600
            let type = zone.candidates(wall: wall + shift).first ?? zone.type(at: wall)
            return wall - Int64(type.offset)
        }
        guard let isDST else { throw HistoryError("invalid time \"\(text)\": AmbiguousTimeError: \(zone.name) shows it twice") }
        let matching = candidates.filter { $0.isDST == isDST }
        let chosen = matching.count == 1 ? matching[0] : (matching.isEmpty ? candidates : matching).max { $0.offset < $1.offset }!
        return wall - Int64(chosen.offset)
    }
}

extension Civil {
    /// "2014-04-01 10:11:12".
    var text: String {
        let sink = ByteSink(capacity: 64)
        append(to: sink)
        return sink.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    func append(to output: ByteSink) {
        let out = output.reserve(19)
        @inline(__always) func put(_ value: Int, _ at: Int, _ width: Int) {
            var value = value
            for index in stride(from: at + width - 1, through: at, by: -1) {
                out[index] = 0x30 + UInt8(truncatingIfNeeded: value % 10)
                value /= 10
            }
        }
        put(year, 0, 4); put(month, 5, 2); put(day, 8, 2); put(hour, 11, 2); put(minute, 14, 2); put(second, 17, 2)
        (out[4], out[7], out[10], out[13], out[16]) = (0x2D, 0x2D, 0x20, 0x3A, 0x3A)
        output.advance(19)
    }
}

/// The last second rendered ("2014-04-01 10:11:12"): records come many to a second.
public struct SecondCache: Sendable {
    private var second: Int64 = -1
    private var text: (UInt64, UInt64, UInt64) = (0, 0, 0)

    public init() {}

    mutating func append(second: Int64, to bytes: ByteSink) {
        if second != self.second {
            let scratch = ByteSink(capacity: 64)
            Civil(instant: second).append(to: scratch)
            scratch.withBytes { source in withUnsafeMutableBytes(of: &text) { $0.copyMemory(from: source) } }
            self.second = second
        }
        withUnsafeBytes(of: &text) { bytes.append(UnsafeRawBufferPointer(rebasing: $0[0..<19])) }
    }
}
