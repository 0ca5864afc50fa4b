import Foundation
import Logging
import Synchronization
import Threads

/// Appends records to a cpppo-compatible history file, rotating it by size or
/// age into `name.hst.0`, then `name.hst.1.gz` (or .bz2, .xz) and onwards; the
/// newest rotated file stays plain, as logrotate's delaycompress leaves it,
/// and a background thread compresses the one before it.
///
/// With `.line` buffering each record is one `write(2)` of a whole line to a
/// file opened for append: when `write` returns, the record survives the
/// process crashing. `sync` adds `fsync` for surviving the machine losing
/// power. `.block` buffering writes when the buffer fills, on `flush()` and
/// on `close()`: records are safe once `flush()` returns.
public final class HistoryWriter: Sendable {
    public struct Rotation: Sendable {
        /// Rotate before a record would make the file larger than this.
        public var maxBytes: Int?
        /// Rotate before a record more than this many seconds after the file's first.
        public var maxAge: Double?
        /// How many rotated files to keep (`name.hst.0` to `name.hst.<keep-1>`).
        public var keep: Int
        public var compression: Compression

        public init(maxBytes: Int? = nil, maxAge: Double? = nil, keep: Int = 10, compression: Compression = .gzip) {
            (self.maxBytes, self.maxAge, self.keep, self.compression) = (maxBytes, maxAge, max(keep, 1), compression)
        }
    }

    public enum Buffering: Sendable, Equatable {
        case line
        case block(bytes: Int)
    }

    public enum Sync: Sendable, Equatable {
        case never
        case everyWrite
        case interval(seconds: Double)
    }

    private struct State {
        var fd: Int32 = -1
        /// `close()` was called: no reopening.
        var closed = false
        /// A write failed part way: the file ends in part of a line, which
        /// the next write ends first (so that the two are not run together).
        var partial = false
        var buffer = ByteSink(capacity: 1 << 16)
        var second = SecondCache()
        var size = 0
        var first: Double?
        var lastSync = 0.0
    }

    public let path: String
    public let rotation: Rotation?
    public let buffering: Buffering
    public let sync: Sync
    private let state = Mutex(State())
    private let compressor: BackgroundCompressor
    private let logger: Logger

    public init(path: String, rotation: Rotation? = nil, buffering: Buffering = .line, sync: Sync = .never,
                logger: Logger = Logger(label: "fieldgw.history")) throws {
        (self.path, self.rotation, self.buffering, self.sync, self.logger) = (path, rotation, buffering, sync, logger)
        compressor = BackgroundCompressor(logger: logger)
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        try state.withLock { try open(&$0) }
    }

    deinit {
        try? close()
    }

    /// Records `data` with `serial` at `time` (the wall clock by default).
    public func write(_ data: JSONValue, serial: JSONValue = .null, at time: Timestamp = .now()) throws {
        try state.withLock { state in
            let mark = state.buffer.count
            HistoryWriter.format(data, serial: serial, at: time, into: state.buffer, cache: &state.second)
            try commit(&state, from: mark, at: time.value)
        }
    }

    /// Records the JSON `data` writes, with `serial` at `time`: the same line
    /// as `write(_:serial:at:)`, with no `JSONValue` built on the way.
    public func write(serial: JSONValue = .null, at time: Timestamp = .now(), data: (inout JSONWriter) throws -> Void) throws {
        try state.withLock { state in
            let mark = state.buffer.count
            time.render(into: state.buffer, cache: &state.second)
            state.buffer.append(0x09)
            serial.encode(into: state.buffer)
            state.buffer.append(0x09)
            var json = JSONWriter(sink: state.buffer)
            do { try data(&json) } catch {
                state.buffer.truncate(to: mark)
                throw error
            }
            state.buffer.append(0x0A)
            try commit(&state, from: mark, at: time.value)
        }
    }

    /// A `# text` line; readers skip it.
    public func comment(_ text: String) throws {
        let clean = text.replacingOccurrences(of: "\n", with: " ")
        try state.withLock { state in
            let mark = state.buffer.count
            state.buffer.append("# " + clean + "\n")
            try commit(&state, from: mark, at: nil)
        }
    }

    /// Writes what is buffered (and, unless `sync` is `.never`, syncs it).
    public func flush() throws {
        try state.withLock { try drain(&$0, force: true) }
    }

    /// Flushes, closes, and waits for compression to finish.
    public func close() throws {
        try state.withLock { state in
            state.closed = true
            guard state.fd >= 0 else { return }
            defer { Foundation.close(state.fd); state.fd = -1 }
            try drain(&state, force: true)
        }
        compressor.waitUntilIdle()
    }

    /// The line cpppo's logger writes: `str(timestamp)`, `json.dumps(serial)`, `json.dumps(data)`.
    public static func format(_ data: JSONValue, serial: JSONValue, at time: Timestamp, into line: ByteSink, cache: inout SecondCache) {
        time.render(into: line, cache: &cache)
        line.append(0x09)
        serial.encode(into: line)
        line.append(0x09)
        data.encode(into: line)
        line.append(0x0A)
    }

    /// Takes the line formatted at the buffer's end (from `mark`) into the
    /// file, rotating first if it is due. A file that could not be opened
    /// (or reopened after a rotation failed part way) is tried again here,
    /// record by record, until it can be.
    private func commit(_ state: inout State, from mark: Int, at time: Double?) throws {
        if state.fd < 0 {
            guard !state.closed else {
                state.buffer.truncate(to: mark)
                throw HistoryError("\(path): the history writer is closed")
            }
            do { try open(&state) } catch {
                state.buffer.truncate(to: mark)
                throw error
            }
        }
        let length = state.buffer.count - mark
        if let time, needsRotation(state, adding: length, at: time) {
            let line = state.buffer.withBytes(from: mark) { Array($0) }
            state.buffer.truncate(to: mark)
            do { try rotate(&state) } catch {
                // The record still goes into the live file; rotation is tried with the next.
                logger.error("history file not rotated", metadata: ["path": "\(path)", "error": "\(error)"])
                if state.fd < 0 { try? open(&state) }
            }
            state.buffer.append(line)
            guard state.fd >= 0 else {
                state.buffer.truncate(to: mark)
                throw HistoryError("\(path): cannot reopen after a failed rotation")
            }
        }
        if let time, state.first == nil { state.first = time }
        state.size += length
        do { try drain(&state, force: buffering == .line) } catch {
            // A line not written is not acknowledged: line by line, it is not kept to be written later.
            if buffering == .line { state.buffer.removeAll() }
            throw error
        }
    }

    /// The most bytes kept for a retry while the disk refuses them (block buffering).
    static let keptLimit = 16 << 20

    private func needsRotation(_ state: State, adding count: Int, at time: Double) -> Bool {
        guard let rotation, state.size > 0 else { return false }
        if let maxBytes = rotation.maxBytes, state.size + count > maxBytes { return true }
        if let maxAge = rotation.maxAge, let first = state.first, time - first >= maxAge { return true }
        return false
    }

    private func drain(_ state: inout State, force: Bool) throws {
        if case .block(let bytes) = buffering, !force, state.buffer.count < bytes { return }
        if state.buffer.count > 0 {
            if state.partial {
                let fd = state.fd
                try [UInt8(0x0A)].withUnsafeBytes { try ByteOutput.writeAll(fd, $0, path) }
                state.partial = false
            }
            var written = 0
            let fd = state.fd
            do {
                try state.buffer.withBytes { try ByteOutput.writeAll(fd, $0, path, written: &written) }
            } catch {
                // What went out stays out; the rest is kept (up to a limit) for the next try.
                let endsLine = written == 0 || state.buffer.withBytes { $0[written - 1] == 0x0A }
                state.buffer.removeFirst(written)
                state.partial = !endsLine
                if state.buffer.count > Self.keptLimit { state.buffer.removeAll() }
                throw error
            }
            state.buffer.removeAll()
        }
        try syncIfDue(&state)
    }

    private func syncIfDue(_ state: inout State) throws {
        guard sync != .never else { return }
        let now = Timestamp.now().value
        if case .interval(let seconds) = sync, now - state.lastSync < seconds { return }
        guard fsync(state.fd) == 0 else { throw HistoryError.system("cannot fsync", path) }
        state.lastSync = now
    }

    private func open(_ state: inout State) throws {
        let fd = Foundation.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HistoryError.system("cannot open", path) }
        var info = stat()
        fstat(fd, &info)
        state.fd = fd
        state.size = Int(info.st_size)
        state.first = state.size > 0 ? (try? HistoryFiles.firstRecord(path))?.time.value : nil
    }

    /// name.hst.K → name.hst.K+1 (oldest dropped), name.hst → name.hst.0, a new
    /// name.hst, and name.hst.1 handed to the compressor.
    private func rotate(_ state: inout State) throws {
        guard let rotation else { return }
        try drain(&state, force: true)
        Foundation.close(state.fd)
        state.fd = -1
        compressor.waitUntilIdle()  // name.hst.1 may still be compressing
        for index in stride(from: rotation.keep - 1, through: 0, by: -1) {
            for compression in Compression.allCases {
                let from = "\(path).\(index)\(compression.suffix)"
                guard access(from, F_OK) == 0 else { continue }
                if index + 1 >= rotation.keep { unlink(from) } else { try HistoryWriter.move(from, "\(path).\(index + 1)\(compression.suffix)") }
            }
        }
        try HistoryWriter.move(path, "\(path).0")
        try open(&state)
        logger.info("history file rotated", metadata: ["path": "\(path)"])
        let older = "\(path).1"
        if rotation.compression != .none, rotation.keep > 1, access(older, F_OK) == 0 {
            compressor.compress(older, rotation.compression)
        }
    }

    private static func move(_ from: String, _ to: String) throws {
        guard rename(from, to) == 0 else { throw HistoryError("cannot rename \(from) to \(to): \(String(cString: strerror(errno)))") }
    }
}

/// One thread that compresses rotated files, one at a time, so that writing never waits for it.
final class BackgroundCompressor: Sendable {
    private let pending = Mutex<Int>(0)
    private let idle = NSCondition()
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func compress(_ path: String, _ compression: Compression) {
        pending.withLock { $0 += 1 }
        let logger = self.logger
        WorkerThread.detach(name: "history compress") { [self] in
            do {
                try compression.compress(path, into: path + compression.suffix)
                unlink(path)
            } catch {
                logger.error("history file not compressed", metadata: ["path": "\(path)", "error": "\(error)"])
            }
            idle.lock()
            pending.withLock { $0 -= 1 }
            idle.broadcast()
            idle.unlock()
        }
    }

    func waitUntilIdle() {
        idle.lock()
        while pending.withLock({ $0 }) > 0 { idle.wait() }
        idle.unlock()
    }
}
