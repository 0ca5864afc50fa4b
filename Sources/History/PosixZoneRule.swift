import Foundation

/// The POSIX TZ rule in a TZif footer ("MST7MDT,M3.2.0,M11.1.0"): the zone's
/// local time after its last listed transition.
struct PosixZoneRule: Sendable {
    /// When in a year daylight time starts or ends.
    enum Day: Sendable {
        case month(month: Int, week: Int, weekday: Int)  // Mm.w.d
        case julianNoLeap(Int)  // Jn: 1...365, February 29 never counted
        case zeroBased(Int)  // n: 0...365
    }

    struct Change: Sendable {
        var day: Day
        var seconds: Int  // local time of day, may be negative or past 24 h
    }

    let standard: LocalTimeType
    let daylight: LocalTimeType?
    let start: Change?
    let end: Change?

    init(_ text: String, zone: String) throws(ZoneError) {
        var scanner = RuleScanner(text: Array(text.utf8), zone: zone)
        let standardName = try scanner.name()
        standard = LocalTimeType(offset: -(try scanner.offset()), isDST: false, abbreviation: standardName)
        guard !scanner.atEnd else { (daylight, start, end) = (nil, nil, nil); return }
        let daylightName = try scanner.name()
        let offset = scanner.peekIsComma ? standard.offset + 3600 : -(try scanner.offset())
        daylight = LocalTimeType(offset: offset, isDST: true, abbreviation: daylightName)
        start = try scanner.change()
        end = try scanner.change()
        guard scanner.atEnd else { throw ZoneError("\(zone): TZ rule \"\(text)\" has trailing text") }
    }

    func type(at instant: Int64) -> LocalTimeType {
        guard let daylight, let start, let end else { return standard }
        let year = Civil(instant: instant + Int64(standard.offset)).year
        let begins = instantOf(start, year: year, offset: standard.offset)
        let ends = instantOf(end, year: year, offset: daylight.offset)
        let inDaylight = begins < ends ? (instant >= begins && instant < ends) : !(instant >= ends && instant < begins)
        return inDaylight ? daylight : standard
    }

    func changes(in window: ClosedRange<Int64>) -> [(instant: Int64, type: LocalTimeType)] {
        guard let daylight, let start, let end else { return [] }
        let first = Civil(instant: window.lowerBound).year - 1, last = Civil(instant: window.upperBound).year + 1
        var result: [(Int64, LocalTimeType)] = []
        for year in first...last {
            result.append((instantOf(start, year: year, offset: standard.offset), daylight))
            result.append((instantOf(end, year: year, offset: daylight.offset), standard))
        }
        return result.filter { window.contains($0.0) }.sorted { $0.0 < $1.0 }
    }

    /// The UTC instant of a change in `year`, its time of day read on a clock
    /// `offset` seconds ahead of UTC.
    private func instantOf(_ change: Change, year: Int, offset: Int) -> Int64 {
        let day: Int64
        switch change.day {
        case .zeroBased(let n): day = Civil.days(year: year, month: 1, day: 1) + Int64(n)
        case .julianNoLeap(let n):
            day = Civil.days(year: year, month: 1, day: 1) + Int64(n - 1) + (Civil.isLeap(year) && n >= 60 ? 1 : 0)
        case .month(let month, let week, let weekday):
            let first = Civil.days(year: year, month: month, day: 1)
            var date = first + Int64((weekday - Civil.weekday(days: first) + 7) % 7) + Int64(7 * (week - 1))
            let next = month == 12 ? Civil.days(year: year + 1, month: 1, day: 1) : Civil.days(year: year, month: month + 1, day: 1)
            while date >= next { date -= 7 }
            day = date
        }
        return day * 86_400 + Int64(change.seconds) - Int64(offset)
    }
}

/// Reads the parts of a POSIX TZ string.
private struct RuleScanner {
    let text: [UInt8]
    let zone: String
    var index = 0

    var atEnd: Bool { index >= text.count }
    var peekIsComma: Bool { !atEnd && text[index] == UInt8(ascii: ",") }

    mutating func name() throws(ZoneError) -> String {
        if !atEnd, text[index] == UInt8(ascii: "<") {
            guard let close = text[index...].firstIndex(of: UInt8(ascii: ">")) else { throw failure("unclosed <") }
            defer { index = close + 1 }
            return String(decoding: text[(index + 1)..<close], as: UTF8.self)
        }
        let start = index
        while !atEnd, (UInt8(ascii: "A")...UInt8(ascii: "z")).contains(text[index]) { index += 1 }
        guard index - start >= 3 else { throw failure("a zone name must have 3 letters") }
        return String(decoding: text[start..<index], as: UTF8.self)
    }

    /// [+-]hh[:mm[:ss]] in seconds.
    mutating func offset() throws(ZoneError) -> Int {
        var sign = 1
        if !atEnd, text[index] == UInt8(ascii: "-") || text[index] == UInt8(ascii: "+") {
            sign = text[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
        }
        let hours = try number()
        guard hours <= 167 else { throw failure("hours past 167") }
        var total = hours * 3600
        for scale in [60, 1] where !atEnd && text[index] == UInt8(ascii: ":") {
            index += 1
            let part = try number()
            guard part < 60 else { throw failure("minutes and seconds are below 60") }
            total += part * scale
        }
        return sign * total
    }

    mutating func change() throws(ZoneError) -> PosixZoneRule.Change {
        guard peekIsComma else { throw failure("a daylight rule needs a start and an end") }
        index += 1
        guard !atEnd else { throw failure("a day expected after the comma") }
        let day: PosixZoneRule.Day
        if text[index] == UInt8(ascii: "M") {
            index += 1
            let month = try number(); try expect(".")
            let week = try number(); try expect(".")
            let weekday = try number()
            guard (1...12).contains(month), (1...5).contains(week), (0...6).contains(weekday) else { throw failure("bad Mm.w.d") }
            day = .month(month: month, week: week, weekday: weekday)
        } else if text[index] == UInt8(ascii: "J") {
            index += 1
            let number = try number()
            guard (1...365).contains(number) else { throw failure("Jn counts 1 to 365") }
            day = .julianNoLeap(number)
        } else {
            let number = try number()
            guard (0...365).contains(number) else { throw failure("n counts 0 to 365") }
            day = .zeroBased(number)
        }
        var seconds = 7200
        if !atEnd, text[index] == UInt8(ascii: "/") {
            index += 1
            seconds = try offset()
        }
        return PosixZoneRule.Change(day: day, seconds: seconds)
    }

    private mutating func number() throws(ZoneError) -> Int {
        let start = index
        while !atEnd, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[index]) { index += 1 }
        guard index > start, index - start <= 6, let value = Int(String(decoding: text[start..<index], as: UTF8.self)) else { throw failure("a number expected") }
        return value
    }

    private mutating func expect(_ character: Unicode.Scalar) throws(ZoneError) {
        guard !atEnd, text[index] == UInt8(ascii: character) else { throw failure("\"\(character)\" expected") }
        index += 1
    }

    private func failure(_ reason: String) -> ZoneError {
        ZoneError("\(zone): TZ rule \"\(String(decoding: text, as: UTF8.self))\": \(reason) at character \(index + 1)")
    }
}
