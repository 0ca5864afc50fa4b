import CBzip2
import CLzma
import CZlib
import Foundation

/// How a history file is compressed, known by its name as cpppo's `opener` knows it.
public enum Compression: String, Sendable, CaseIterable {
    case none, gzip, bzip2, xz

    public init(path: String) {
        if path.hasSuffix(".gz") { self = .gzip }
        else if path.hasSuffix(".bz2") { self = .bzip2 }
        else if path.hasSuffix(".xz") { self = .xz }
        else { self = .none }
    }

    /// The name's suffix: "", ".gz", ".bz2", ".xz".
    public var suffix: String {
        switch self {
        case .none: ""
        case .gzip: ".gz"
        case .bzip2: ".bz2"
        case .xz: ".xz"
        }
    }

    /// Compresses `source` into `destination` (written whole, then renamed into place).
    public func compress(_ source: String, into destination: String) throws {
        let input = try ByteInput(path: source, compression: .none)
        defer { input.close() }
        let temporary = (destination as NSString).deletingLastPathComponent + "/." + (destination as NSString).lastPathComponent + ".tmp"
        let output = try ByteOutput(path: temporary, compression: self)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        do {
            while case let count = try input.read(into: &buffer), count > 0 { try output.write(buffer[0..<count]) }
            try output.close()
            try Compression.sync(temporary)  // on disk before the plain file it replaces is removed
        } catch {
            try? output.close()
            unlink(temporary)
            throw error
        }
        guard rename(temporary, destination) == 0 else {
            unlink(temporary)
            throw HistoryError("cannot rename \(temporary) to \(destination): \(String(cString: strerror(errno)))")
        }
    }
}

/// An open file and what reads or writes it: a descriptor, zlib's or
/// libbz2's own, or a descriptor with an xz stream and its buffer.
private enum Handle {
    case plain(Int32)
    case gzip(gzFile)
    case bzip2(UnsafeMutableRawPointer)
    /// libbz2's writer over a stdio file we own: its errors are seen (BZ2_bzclose drops them).
    case bzip2Writer(UnsafeMutablePointer<FILE>, UnsafeMutableRawPointer)
    case xz(Int32, UnsafeMutablePointer<lzma_stream>, UnsafeMutableRawBufferPointer)
}

extension Compression {
    /// fsync of a file already written and closed.
    static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HistoryError.system("cannot open", path) }
        defer { Foundation.close(fd) }
        guard fsync(fd) == 0 else { throw HistoryError.system("cannot fsync", path) }
    }
}

/// Bytes from a plain or compressed file.
final class ByteInput {
    let path: String
    private var handle: Handle
    private var xzFinished = false

    init(path: String, compression: Compression) throws {
        self.path = path
        switch compression {
        case .none:
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw HistoryError.system("cannot open", path) }
            handle = .plain(fd)
        case .gzip:
            guard let file = gzopen(path, "rb") else { throw HistoryError.system("cannot open", path) }
            handle = .gzip(file)
        case .bzip2:
            guard let file = BZ2_bzopen(path, "rb") else { throw HistoryError.system("cannot open", path) }
            handle = .bzip2(file)
        case .xz:
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw HistoryError.system("cannot open", path) }
            let stream = UnsafeMutablePointer<lzma_stream>.allocate(capacity: 1)
            stream.initialize(to: lzma_stream())
            guard lzma_stream_decoder(stream, UInt64.max, 0x08 /* LZMA_CONCATENATED, a macro Swift cannot import */) == LZMA_OK else {
                Foundation.close(fd); stream.deallocate()
                throw HistoryError("\(path): cannot start an xz decoder")
            }
            handle = .xz(fd, stream, .allocate(byteCount: 1 << 16, alignment: 16))
        }
    }

    /// Up to `buffer.count` bytes; 0 at the end.
    func read(into buffer: inout [UInt8]) throws -> Int {
        try buffer.withUnsafeMutableBytes { try read(into: $0) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count: Int
        switch handle {
        case .plain(let fd): count = Foundation.read(fd, buffer.baseAddress, buffer.count)
        case .gzip(let file): count = Int(gzread(file, buffer.baseAddress, UInt32(buffer.count)))
        case .bzip2(let file): count = Int(BZ2_bzread(file, buffer.baseAddress, Int32(buffer.count)))
        case .bzip2Writer: count = -1  // never made for reading
        case .xz(let fd, let stream, let input): count = try readXZ(fd, stream, input, into: buffer)
        }
        guard count >= 0 else { throw HistoryError("\(path): the file cannot be read (corrupt or truncated?)") }
        return count
    }

    private func readXZ(_ fd: Int32, _ stream: UnsafeMutablePointer<lzma_stream>, _ input: UnsafeMutableRawBufferPointer,
                        into out: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !xzFinished else { return 0 }
        stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = out.count
        while stream.pointee.avail_out == out.count {
            var action = LZMA_RUN
            if stream.pointee.avail_in == 0 {
                let got = Foundation.read(fd, input.baseAddress, input.count)
                guard got >= 0 else { throw HistoryError.system("cannot read", path) }
                if got == 0 { action = LZMA_FINISH }
                stream.pointee.next_in = UnsafePointer(input.baseAddress!.assumingMemoryBound(to: UInt8.self))
                stream.pointee.avail_in = got
            }
            let result = lzma_code(stream, action)
            if result == LZMA_STREAM_END { xzFinished = true; break }
            guard result == LZMA_OK else { throw HistoryError("\(path): xz data is corrupt or truncated (lzma error \(result.rawValue))") }
        }
        return out.count - stream.pointee.avail_out
    }

    func close() {
        switch handle {
        case .plain(let fd): Foundation.close(fd)
        case .gzip(let file): gzclose(file)
        case .bzip2(let file): BZ2_bzclose(file)
        case .bzip2Writer(let file, _): fclose(file)
        case .xz(let fd, let stream, let input):
            Foundation.close(fd)
            lzma_end(stream)
            stream.deallocate()
            input.deallocate()
        }
        handle = .plain(-1)
    }
}

/// Bytes into a plain or compressed file, created (or emptied) by `init`.
final class ByteOutput {
    let path: String
    private var handle: Handle

    init(path: String, compression: Compression) throws {
        self.path = path
        switch compression {
        case .none, .xz:
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw HistoryError.system("cannot create", path) }
            guard compression == .xz else { handle = .plain(fd); return }
            let stream = UnsafeMutablePointer<lzma_stream>.allocate(capacity: 1)
            stream.initialize(to: lzma_stream())
            guard lzma_easy_encoder(stream, 6, LZMA_CHECK_CRC64) == LZMA_OK else {
                Foundation.close(fd); stream.deallocate()
                throw HistoryError("\(path): cannot start an xz encoder")
            }
            handle = .xz(fd, stream, .allocate(byteCount: 1 << 16, alignment: 16))
        case .gzip:
            guard let file = gzopen(path, "wb6") else { throw HistoryError.system("cannot create", path) }
            handle = .gzip(file)
        case .bzip2:
            guard let file = fopen(path, "wb") else { throw HistoryError.system("cannot create", path) }
            var error: Int32 = 0
            guard let writer = BZ2_bzWriteOpen(&error, file, 9, 0, 0), error == BZ_OK else {
                fclose(file)
                throw HistoryError("\(path): cannot start a bzip2 writer (libbz2 error \(error))")
            }
            handle = .bzip2Writer(file, writer)
        }
    }

    func write(_ bytes: ArraySlice<UInt8>) throws {
        try bytes.withUnsafeBytes { raw in
            switch handle {
            case .plain(let fd): try ByteOutput.writeAll(fd, raw, path)
            case .gzip(let file):
                guard gzwrite(file, raw.baseAddress, UInt32(raw.count)) == raw.count else { throw HistoryError.system("cannot write", path) }
            case .bzip2Writer(_, let writer):
                var error: Int32 = 0
                BZ2_bzWrite(&error, writer, UnsafeMutableRawPointer(mutating: raw.baseAddress), Int32(raw.count))
                guard error == BZ_OK else { throw HistoryError("\(path): bzip2 write failed (libbz2 error \(error))") }
            case .bzip2: throw HistoryError("\(path): opened for reading")
            case .xz(let fd, let stream, let output):
                stream.pointee.next_in = raw.baseAddress?.assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_in = raw.count
                try ByteOutput.code(stream, LZMA_RUN, fd, output, path)
            }
        }
    }

    /// Finishes the stream and closes the file.
    func close() throws {
        defer { handle = .plain(-1) }
        switch handle {
        case .plain(let fd):
            guard fd >= 0 else { return }
            guard Foundation.close(fd) == 0 else { throw HistoryError.system("cannot close", path) }
        case .gzip(let file): guard gzclose(file) == Z_OK else { throw HistoryError.system("cannot close", path) }
        case .bzip2(let file): BZ2_bzclose(file)
        case .bzip2Writer(let file, let writer):
            var error: Int32 = 0
            BZ2_bzWriteClose(&error, writer, 0, nil, nil)
            let flushed = fflush(file) == 0
            guard fclose(file) == 0, flushed, error == BZ_OK else { throw HistoryError.system("cannot finish bzip2 file", path) }
        case .xz(let fd, let stream, let output):
            defer { lzma_end(stream); stream.deallocate(); output.deallocate(); Foundation.close(fd) }
            try ByteOutput.code(stream, LZMA_FINISH, fd, output, path)
        }
    }

    /// Runs the encoder until it wants more input (or, finishing, until the stream ends).
    private static func code(_ stream: UnsafeMutablePointer<lzma_stream>, _ action: lzma_action, _ fd: Int32,
                             _ output: UnsafeMutableRawBufferPointer, _ path: String) throws {
        while true {
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = output.count
            let result = lzma_code(stream, action)
            guard result == LZMA_OK || result == LZMA_STREAM_END else { throw HistoryError("\(path): xz encoder error \(result.rawValue)") }
            try writeAll(fd, UnsafeRawBufferPointer(rebasing: output[0..<(output.count - stream.pointee.avail_out)]), path)
            if result == LZMA_STREAM_END || (action == LZMA_RUN && stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0) { return }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ path: String) throws {
        var written = 0
        try writeAll(fd, bytes, path, written: &written)
    }

    /// As above; `written` says how far it got when it throws (a full disk part way).
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ path: String, written: inout Int) throws {
        while written < bytes.count {
            let wrote = Foundation.write(fd, bytes.baseAddress! + written, bytes.count - written)
            if wrote < 0, errno == EINTR { continue }
            guard wrote > 0 else { throw HistoryError.system("cannot write", path) }
            written += wrote
        }
    }
}
