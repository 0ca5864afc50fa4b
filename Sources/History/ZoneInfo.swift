import Foundation

/// One local time type of a zone: its offset from UTC, whether it is daylight
/// saving time, and its abbreviation ("MDT", or "+03" where the zone has none).
public struct LocalTimeType: Sendable, Hashable {
    public var offset: Int
    public var isDST: Bool
    public var abbreviation: String
}

/// A time zone read from a TZif file (RFC 8536), the files Python's `zoneinfo`
/// and pytz read: every transition with the local time type it starts, then
/// the POSIX TZ rule of the file's footer for the instants after the last one.
/// Foundation's `TimeZone` is not used because on Linux it names CEST
/// "GMT+2", and cpppo's files carry tzdata's abbreviations.
public struct ZoneInfo: Sendable {
    public let name: String
    /// Instants (UTC seconds) at which `types[typeIndices[i]]` begins.
    public let transitions: [Int64]
    let typeIndices: [Int]
    public let types: [LocalTimeType]
    let rule: PosixZoneRule?

    /// The zone's local time type at a UTC instant.
    public func type(at instant: Int64) -> LocalTimeType {
        guard let last = transitions.last, instant >= last, let rule else {
            let index = upperBound(instant)
            return index == 0 ? firstType : types[typeIndices[index - 1]]
        }
        return rule.type(at: instant)
    }

    /// The local time types whose wall clock shows `wall` (seconds of a naive
    /// date-time, counted as if it were UTC): one normally, none in a gap
    /// (spring forward), two in an overlap (fall back), earliest instant first.
    public func candidates(wall: Int64) -> [LocalTimeType] {
        var found: [LocalTimeType] = []
        var offsets = Set(types.map(\.offset))
        if let rule { offsets.formUnion([rule.standard.offset] + (rule.daylight.map { [$0.offset] } ?? [])) }
        for offset in offsets.sorted(by: >) {
            let type = self.type(at: wall - Int64(offset))
            if type.offset == offset, !found.contains(type) { found.append(type) }
        }
        return found
    }

    /// The UTC instants (from `transitions`, and from the rule up to `until`)
    /// at which the zone's local time type changes, in `window`.
    public func changes(in window: ClosedRange<Int64>) -> [(instant: Int64, type: LocalTimeType)] {
        var result: [(Int64, LocalTimeType)] = []
        for (index, instant) in transitions.enumerated() where window.contains(instant) {
            result.append((instant, types[typeIndices[index]]))
        }
        if let rule {
            let start = max(window.lowerBound, (transitions.last ?? window.lowerBound) + 1)
            if start <= window.upperBound { result += rule.changes(in: start...window.upperBound) }
        }
        return result
    }

    /// pytz's choice for the instants before the first transition: the first
    /// standard-time type, or the first type.
    private var firstType: LocalTimeType { types.first { !$0.isDST } ?? types[0] }

    private func upperBound(_ instant: Int64) -> Int {
        var low = 0, high = transitions.count
        while low < high {
            let middle = (low + high) / 2
            if transitions[middle] <= instant { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

extension ZoneInfo {
    /// Parses TZif bytes; version 2 and later files are read from their 64-bit part.
    public init(name: String, tzif bytes: [UInt8]) throws(ZoneError) {
        var reader = TZifReader(bytes: bytes, name: name)
        let first = try reader.header()
        guard first.version >= 2 else {
            self = try reader.body(first, wide: false, name: name, footer: nil)
            return
        }
        try reader.skip(first.bodyLength(wide: false))
        let second = try reader.header()
        let body = try reader.bodyBytes(second)
        let footer = reader.footer()
        var wide = TZifReader(bytes: body, name: name)
        self = try wide.body(second, wide: true, name: name, footer: footer)
    }
}

/// Why a zone could not be used.
public struct ZoneError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A cursor over a TZif file's bytes.
struct TZifReader {
    struct Header {
        var version: Int
        var isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt: Int
        func bodyLength(wide: Bool) -> Int {
            let time = wide ? 8 : 4
            return timecnt * time + timecnt + typecnt * 6 + charcnt + leapcnt * (time + 4) + isstdcnt + isutcnt
        }
    }

    let bytes: [UInt8]
    let name: String
    var position = 0

    init(bytes: [UInt8], name: String) {
        self.bytes = bytes
        self.name = name
    }

    mutating func header() throws(ZoneError) -> Header {
        guard bytes.count >= position + 44, bytes[position..<position + 4].elementsEqual("TZif".utf8) else {
            throw ZoneError("\(name): not a TZif file")
        }
        let version = bytes[position + 4] == 0 ? 1 : Int(bytes[position + 4]) - 0x30
        position += 20
        var counts: [Int] = []
        for _ in 0..<6 { counts.append(Int(try int32())) }
        // Found by fuzzing: a negative count walked the reader backwards out of the file.
        guard counts.allSatisfy({ (0...(1 << 20)).contains($0) }) else { throw ZoneError("\(name): TZif counts out of range") }
        return Header(version: version, isutcnt: counts[0], isstdcnt: counts[1], leapcnt: counts[2],
                      timecnt: counts[3], typecnt: counts[4], charcnt: counts[5])
    }

    mutating func skip(_ count: Int) throws(ZoneError) {
        guard count >= 0, position + count <= bytes.count else { throw ZoneError("\(name): TZif file cut short") }
        position += count
    }

    mutating func bodyBytes(_ header: Header) throws(ZoneError) -> [UInt8] {
        let length = header.bodyLength(wide: true)
        let start = position
        try skip(length)
        return Array(bytes[start..<start + length])
    }

    /// The POSIX TZ string between the newlines after a version 2+ body.
    func footer() -> String? {
        guard position < bytes.count, bytes[position] == 0x0A,
              let end = bytes[(position + 1)...].firstIndex(of: 0x0A) else { return nil }
        let text = String(decoding: bytes[(position + 1)..<end], as: UTF8.self)
        return text.isEmpty ? nil : text
    }

    mutating func body(_ header: Header, wide: Bool, name: String, footer: String?) throws(ZoneError) -> ZoneInfo {
        var transitions: [Int64] = []
        for _ in 0..<header.timecnt { transitions.append(wide ? try int64() : Int64(try int32())) }
        var indices: [Int] = []
        for _ in 0..<header.timecnt { indices.append(Int(try byte())) }
        var raw: [(Int, Bool, Int)] = []
        for _ in 0..<header.typecnt { raw.append((Int(try int32()), try byte() != 0, Int(try byte()))) }
        let start = position
        try skip(header.charcnt)
        let characters = Array(bytes[start..<start + header.charcnt])
        // Found by fuzzing: an abbreviation index past the characters.
        guard raw.allSatisfy({ $0.2 <= characters.count }) else { throw ZoneError("\(name): TZif abbreviation index out of range") }
        let types = raw.map { offset, isDST, index in
            let end = characters[index...].firstIndex(of: 0) ?? characters.count
            return LocalTimeType(offset: offset, isDST: isDST, abbreviation: String(decoding: characters[index..<end], as: UTF8.self))
        }
        guard !types.isEmpty, indices.allSatisfy({ $0 < types.count }) else { throw ZoneError("\(name): TZif types are inconsistent") }
        let rule = try footer.map { (text) throws(ZoneError) in try PosixZoneRule(text, zone: name) }
        return ZoneInfo(name: name, transitions: transitions, typeIndices: indices, types: types, rule: rule)
    }

    private mutating func byte() throws(ZoneError) -> UInt8 {
        try skip(1)
        return bytes[position - 1]
    }

    private mutating func int32() throws(ZoneError) -> Int32 {
        try skip(4)
        return bytes[(position - 4)..<position].reduce(0) { $0 << 8 | Int32($1) }
    }

    private mutating func int64() throws(ZoneError) -> Int64 {
        try skip(8)
        return bytes[(position - 8)..<position].reduce(0) { $0 << 8 | Int64($1) }
    }
}
