import Foundation

/// A history file and its rotated predecessors (`name.hst`, `name.hst.0`,
/// `name.hst.1.gz`, ...), read as one stream in time order: each file is
/// placed by its first record, and reading continues from one into the next.
/// A line that cannot be read (a truncated last line from a crash mid-write,
/// or garbage) is skipped and reported in `problems`, never fatal.
public struct HistoryFiles: Sendable {
    public struct File: Sendable, Equatable {
        public var path: String
        public var first: Timestamp
        public static func == (lhs: File, rhs: File) -> Bool { lhs.path == rhs.path && lhs.first.value == rhs.first.value }
    }

    /// A line skipped, where and why.
    public struct Problem: Sendable, CustomStringConvertible {
        public var path: String
        public var line: Int
        public var reason: String
        public var description: String { "\(path):\(line): \(reason)" }
    }

    public let path: String
    /// The set's files, oldest first.
    public let files: [File]
    /// Files that hold no record or could not be opened.
    public let ignored: [Problem]

    /// Finds the set named by `path` (the live file's name).
    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)
        var chosen: [String: (name: String, number: Int)] = [:]  // by number, the plain file preferred
        for name in names where name.hasPrefix(base) {
            guard let number = HistoryFiles.number(String(name.dropFirst(base.count))) else { continue }
            let key = String(number)
            if let held = chosen[key], Compression(path: held.name) == .none { continue }
            chosen[key] = (name, number)
        }
        var files: [File] = [], ignored: [Problem] = []
        for (name, _) in chosen.values.sorted(by: { $0.number > $1.number }) {
            let full = directory.isEmpty ? name : directory + "/" + name
            do {
                guard let record = try HistoryFiles.firstRecord(full) else {
                    ignored.append(Problem(path: full, line: 0, reason: "no records"))
                    continue
                }
                files.append(File(path: full, first: record.time))
            } catch {
                ignored.append(Problem(path: full, line: 0, reason: "\(error)"))
            }
        }
        // Oldest first; a stable sort keeps higher numbers (older) first on equal times.
        self.files = files.enumerated().sorted { ($0.element.first.value, $0.offset) < ($1.element.first.value, $1.offset) }.map(\.element)
        self.ignored = ignored
    }

    /// "" is the live file (-1), ".N" and ".N.gz" rotated ones; anything else is not ours.
    static func number(_ rest: String) -> Int? {
        let plain = rest.hasSuffix(Compression(path: rest).suffix) ? String(rest.dropLast(Compression(path: rest).suffix.count)) : rest
        if plain.isEmpty { return -1 }
        guard plain.hasPrefix("."), let number = Int(plain.dropFirst()), number >= 0 else { return nil }
        return number
    }

    /// The first record of a file, or nil if it holds none.
    public static func firstRecord(_ path: String) throws -> HistoryRecord? {
        let lines = try HistoryLines(path: path)
        defer { lines.close() }
        while let (line, _) = try lines.next() {
            if let record = try line.withUnsafeBufferPointer({ try HistoryRecord.parse($0) }) { return record }
        }
        return nil
    }

    /// Records from `from` (default: the oldest) to `to` (default: the newest), in order.
    public func records(from: Timestamp? = nil, to: Timestamp? = nil) -> HistoryRecords {
        var start = 0
        if let from, let index = files.lastIndex(where: { $0.first.value <= from.value }) { start = index }
        return HistoryRecords(files: Array(files[start...]), from: from, to: to)
    }
}

/// Reads a set's records one by one; `problems` lists the lines skipped so far.
public final class HistoryRecords: Sequence, IteratorProtocol {
    private var files: ArraySlice<HistoryFiles.File>
    private var lines: HistoryLines?
    private let from: Timestamp?
    private let to: Timestamp?
    public private(set) var problems: [HistoryFiles.Problem] = []

    init(files: [HistoryFiles.File], from: Timestamp?, to: Timestamp?) {
        (self.files, self.from, self.to) = (files[...], from, to)
    }

    deinit { lines?.close() }

    public func next() -> HistoryRecord? {
        while true {
            guard let lines = currentLines() else { return nil }
            let line: (bytes: [UInt8], number: Int)?
            do { line = try lines.next() } catch {
                problems.append(.init(path: lines.path, line: lines.lineNumber, reason: "\(error)"))
                line = nil
            }
            guard let line else {
                if let truncated = lines.truncated { problems.append(truncated) }
                lines.close()
                self.lines = nil
                continue
            }
            do {
                guard let record = try line.bytes.withUnsafeBufferPointer({ try HistoryRecord.parse($0) }) else { continue }
                if let from, record.time.value < from.value { continue }
                if let to, record.time.value > to.value { return nil }
                return record
            } catch {
                problems.append(.init(path: lines.path, line: line.number, reason: "\(error)"))
            }
        }
    }

    private func currentLines() -> HistoryLines? {
        while lines == nil {
            guard let file = files.popFirst() else { return nil }
            do { lines = try HistoryLines(path: file.path) } catch {
                problems.append(.init(path: file.path, line: 0, reason: "\(error)"))
            }
        }
        return lines
    }
}

/// The lines of one (possibly compressed) file; a last line with no newline
/// is held back and reported as `truncated`.
final class HistoryLines {
    let path: String
    private let input: ByteInput
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0
    private var end = 0
    private var finished = false
    private(set) var lineNumber = 0
    private(set) var truncated: HistoryFiles.Problem?

    init(path: String) throws {
        self.path = path
        input = try ByteInput(path: path, compression: Compression(path: path))
    }

    /// The next whole line without its newline, and its number (from 1).
    func next() throws -> ([UInt8], Int)? {
        while true {
            if let newline = buffer[start..<end].firstIndex(of: 0x0A) {
                defer { start = newline + 1 }
                lineNumber += 1
                return (Array(buffer[start..<newline]), lineNumber)
            }
            guard !finished else {
                if end > start {
                    truncated = .init(path: path, line: lineNumber + 1,
                                      reason: "truncated last line (\(end - start) bytes with no newline; the writer stopped mid-line?)")
                    start = end
                }
                return nil
            }
            try refill()
        }
    }

    private func refill() throws {
        if start > 0 {
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
            }
            (end, start) = (end - start, 0)
        }
        if end == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
        let count = try buffer.withUnsafeMutableBytes { raw in
            try input.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]))
        }
        if count == 0 { finished = true } else { end += count }
    }

    func close() { input.close() }
}
