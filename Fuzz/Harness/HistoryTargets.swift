import History

/// What history files and their zones hold: a line of a `.hst` file (its
/// timestamp and JSON), and a TZif zone file.
enum HistoryTargets {
    /// A record read from a line renders and reads back to the same instant,
    /// and its JSON, written out again, reads back to the same value.
    static func line(_ bytes: [UInt8]) {
        guard let record = try? bytes.withUnsafeBufferPointer({ try HistoryRecord.parse($0) }) else { return }
        if record.time.value >= 0, record.time.value < 253_402_300_800 {  // years 1970 to 9999 render in four digits
            let again = try? Timestamp(parsing: record.time.render(digits: 6))
            require(again.map { abs($0.value - record.time.value) < 1e-5 } == true, "\(record.time.value) does not read back")
        }
        for text in [record.serial, record.data] {
            guard let value = try? JSONValue(parsing: text) else { continue }
            let written = value.text
            require((try? JSONValue(parsing: written)) == value, "\(text) wrote \(written), which reads differently")
        }
    }

    /// A zone file parses, or is refused; a parsed zone answers for any instant and any wall time.
    static func tzif(_ bytes: [UInt8]) {
        guard let zone = try? ZoneInfo(name: "fuzz", tzif: bytes) else { return }
        for instant in [Int64.min / 4, -1, 0, 1_400_000_000, 4_000_000_000, Int64.max / 4] {
            _ = zone.type(at: instant)
            _ = zone.candidates(wall: instant)
        }
        _ = zone.changes(in: 1_300_000_000...1_500_000_000)
    }
}
