import Foundation

/// Replays a history set's records at the pace they were recorded (times
/// `speed`; 0 for as fast as they can be applied), from one rotated file
/// into the next.
public struct Playback: Sendable {
    public let files: HistoryFiles
    public let from: Timestamp?
    public let to: Timestamp?
    /// 1 is the recorded pace, 2 twice as fast, 0 no waiting at all.
    public let speed: Double

    public init(files: HistoryFiles, from: Timestamp? = nil, to: Timestamp? = nil, speed: Double = 1) {
        (self.files, self.from, self.to, self.speed) = (files, from, to, max(speed, 0))
    }

    public struct Report: Sendable {
        public var applied = 0
        /// Records `apply` declined (returned false): not for this target.
        public var skipped = 0
        public var first: Timestamp?
        public var last: Timestamp?
        public var problems: [HistoryFiles.Problem] = []
    }

    /// Calls `apply` with each record when its time comes; `apply` returns
    /// whether the record was for it. A thrown error stops the playback.
    public func run(_ apply: (HistoryRecord) async throws -> Bool) async throws -> Report {
        var report = Report()
        let records = files.records(from: from, to: to)
        let start = ContinuousClock.now
        for record in records {
            try Task.checkCancellation()
            let origin = report.first ?? record.time
            if report.first == nil { report.first = record.time }
            if speed > 0 {
                let due = start + .seconds((record.time.value - origin.value) / speed)
                if due > .now { try await Task.sleep(until: due, clock: .continuous) }
            }
            if try await apply(record) { report.applied += 1 } else { report.skipped += 1 }
            report.last = record.time
        }
        report.problems = records.problems
        return report
    }
}

extension HistoryRecord {
    /// A tag record as `enip-server --historize` (and cpppo's historize)
    /// writes it: serial `["NAME", [FIRST, LAST]]`, data `{"read": [...]}`
    /// or `{"write": [...]}`; the values it holds from element FIRST.
    public var tagValues: (tag: String, first: Int, values: [Double])? {
        guard case .array(let serial)? = try? serialValue, serial.count == 2, case .string(let tag) = serial[0],
              case .array(let range) = serial[1], let firstValue = range.first, case .int(let first) = firstValue,
              case .object(let members)? = try? dataValue, members.count == 1, ["read", "write"].contains(members[0].0) else { return nil }
        let values: [Double]
        switch members[0].1 {
        case .array(let items): values = items.compactMap(\.number)
        case let single: values = single.number.map { [$0] } ?? []
        }
        // An element index no tag could have is not a tag record (and would overflow the arithmetic).
        guard !values.isEmpty, (0...Int64(Int32.max)).contains(first) else { return nil }
        return (tag, Int(first), values)
    }

    /// A register record as cpppo's history holds them: data `{"40001": 5, ...}`.
    public var registerValues: [(address: Int, value: Double)]? {
        guard case .object(let members)? = try? dataValue, !members.isEmpty else { return nil }
        var found: [(Int, Double)] = []
        for (key, value) in members {
            guard let address = Int(key), let number = value.number else { return nil }
            found.append((address, number))
        }
        return found
    }
}

extension JSONValue {
    /// The value as a number: an integer, a float, or a boolean as 0 or 1.
    public var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        case .bool(let value): value ? 1 : 0
        default: nil
        }
    }
}
