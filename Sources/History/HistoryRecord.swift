/// One line of a history file, as cpppo writes it:
/// `TIMESTAMP<TAB>SERIAL-JSON<TAB>DATA-JSON`. The JSON is kept as text, as
/// cpppo's reader keeps it; `serialValue` and `dataValue` decode it.
public struct HistoryRecord: Sendable, Equatable {
    public var time: Timestamp
    public var serial: String
    public var data: String

    public init(time: Timestamp, serial: String, data: String) {
        (self.time, self.serial, self.data) = (time, serial, data)
    }

    public var serialValue: JSONValue { get throws { try JSONValue(parsing: serial) } }
    public var dataValue: JSONValue { get throws { try JSONValue(parsing: data) } }

    public static func == (lhs: HistoryRecord, rhs: HistoryRecord) -> Bool {
        lhs.time.value == rhs.time.value && lhs.serial == rhs.serial && lhs.data == rhs.data
    }

    /// The line's record; nil for a blank or `#` comment line. Leading spaces
    /// are skipped, as cpppo skips them.
    public static func parse(_ line: UnsafeBufferPointer<UInt8>) throws -> HistoryRecord? {
        var start = 0
        while start < line.count, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        guard start < line.count, line[start] != UInt8(ascii: "#") else { return nil }
        guard let firstTab = line[start...].firstIndex(of: 0x09),
              let secondTab = line[(firstTab + 1)...].firstIndex(of: 0x09) else {
            throw HistoryError("not TIMESTAMP<TAB>SERIAL<TAB>DATA")
        }
        var end = line.count
        if end > secondTab + 1, line[end - 1] == 0x0D { end -= 1 }
        let time = try fastTime(UnsafeBufferPointer(rebasing: line[start..<firstTab]))
        return HistoryRecord(time: time,
                             serial: String(decoding: UnsafeBufferPointer(rebasing: line[(firstTab + 1)..<secondTab]), as: UTF8.self),
                             data: String(decoding: UnsafeBufferPointer(rebasing: line[(secondTab + 1)..<end]), as: UTF8.self))
    }

    /// "YYYY-MM-DD HH:MM:SS[.f...]" in UTC read straight from the bytes (the
    /// form every cpppo and fieldgw writer uses); anything else through `Timestamp(parsing:)`.
    static func fastTime(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Timestamp {
        func digits(_ at: Int, _ count: Int) -> Int? {
            var value = 0
            for index in at..<(at + count) {
                let digit = Int(bytes[index]) - 0x30
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        let count = bytes.count
        let separators = count >= 19 && bytes[4] == 0x2D && bytes[7] == 0x2D && bytes[10] == 0x20 && bytes[13] == 0x3A && bytes[16] == 0x3A
        if separators, count == 19 || (count >= 21 && count <= 26 && bytes[19] == 0x2E),
           let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
           let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
           let fraction = count == 19 ? 0 : digits(20, count - 20) {
            let civil = Civil(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
            if civil.year >= 1, civil.isValid {
                let scale = count == 19 ? 1 : Timestamp.powers[count - 20]
                return Timestamp(Double(civil.instant) + Double(fraction) / Double(scale))
            }
        }
        return try Timestamp(parsing: String(decoding: bytes, as: UTF8.self))
    }
}
