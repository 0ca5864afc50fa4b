import Foundation

/// Data the node could not publish, kept in order on disk until the broker
/// is back: one JSON line per sample in `DIRECTORY/spool.jsonl`, appended as
/// it comes (a crash or a restart keeps what was written) and rewritten only
/// when samples leave it. Bounded: when a sample would pass `maximumBytes`,
/// the oldest go (about a tenth of the bound at once) and are counted. A
/// line that cannot be read back (cut short by a power loss) is dropped and
/// counted.
struct Spool {
    let path: String
    let maximumBytes: Int
    /// Each sample, the bytes of its line, and a number of its own for this run.
    private(set) var entries: [(sample: Sample, bytes: Int, id: Int)] = []
    private var lastID = 0
    private(set) var bytes = 0
    /// Samples dropped: the spool was full, or a line could not be read back.
    private(set) var dropped = 0
    private var descriptor: Int32 = -1

    /// Opens (making the directory when needed) and reads what an earlier run left.
    init(directory: String, maximumBytes: Int) throws(SpoolError) {
        path = "\(directory)/spool.jsonl"
        self.maximumBytes = maximumBytes
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SpoolError("cannot make \(directory): \(error.localizedDescription)")
        }
        if let data = FileManager.default.contents(atPath: path) {
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let sample = try? JSONDecoder().decode(Sample.self, from: line) else {
                    dropped += 1
                    continue
                }
                lastID += 1
                entries.append((sample, line.count + 1, lastID))
                bytes += line.count + 1
            }
        }
        try rewrite()
    }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    mutating func append(_ sample: Sample) {
        guard var line = try? JSONEncoder().encode(sample) else { return }
        line.append(UInt8(ascii: "\n"))
        if bytes + line.count > maximumBytes { makeRoom(for: line.count) }
        lastID += 1
        entries.append((sample, line.count, lastID))
        bytes += line.count
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written != line.count { try? rewrite() }
    }

    /// The samples of these ids have been published (and the broker has them).
    mutating func remove(_ published: Set<Int>) {
        guard !published.isEmpty else { return }
        entries.removeAll { published.contains($0.id) }
        bytes = entries.reduce(0) { $0 + $1.bytes }
        try? rewrite()
    }

    /// Samples sent on a connection that broke before the broker confirmed
    /// them: kept again, each device's in the order of their time.
    mutating func putBack(_ samples: [Sample]) {
        guard !samples.isEmpty else { return }
        for sample in samples { append(sample) }
        // Stable: samples of one time keep the order they came in.
        entries = entries.enumerated().sorted { ($0.element.sample.at, $0.offset) < ($1.element.sample.at, $1.offset) }.map(\.element)
        try? rewrite()
    }

    /// Samples whose device is gone: dropped and counted.
    mutating func removeAll(where gone: (Sample) -> Bool) {
        let before = entries.count
        entries.removeAll { gone($0.sample) }
        guard entries.count != before else { return }
        dropped += before - entries.count
        bytes = entries.reduce(0) { $0 + $1.bytes }
        try? rewrite()
    }

    private mutating func makeRoom(for needed: Int) {
        var dropping = 0
        var freed = 0
        while dropping < entries.count && (bytes - freed + needed > maximumBytes || freed < maximumBytes / 10) {
            freed += entries[dropping].bytes
            dropping += 1
        }
        entries.removeFirst(dropping)
        bytes -= freed
        dropped += dropping
        try? rewrite()
    }

    /// The file as the entries are: written beside it, then renamed over it.
    private mutating func rewrite() throws(SpoolError) {
        shut()
        var text = Data()
        let encoder = JSONEncoder()
        for entry in entries {
            guard let line = try? encoder.encode(entry.sample) else { continue }
            text.append(line)
            text.append(UInt8(ascii: "\n"))
        }
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: text), rename(temporary, path) == 0 else {
            throw SpoolError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { throw SpoolError("cannot open \(path): \(String(cString: strerror(errno)))") }
    }

    func shut() {
        if descriptor >= 0 { _ = close(descriptor) }
    }
}

public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
