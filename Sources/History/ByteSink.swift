/// A growable byte buffer for the historian's hot path: appending is a store
/// and a bounds check, with none of `Array`'s uniqueness checks per byte.
public final class ByteSink {
    private struct Header {
        var storage: UnsafeMutablePointer<UInt8>
        var capacity: Int
        var count: Int
    }

    // Behind a pointer, not in `var`s: a class's stored `var`s pay Swift's
    // dynamic exclusivity check on every access, a fifth of the writer's time.
    private let header: UnsafeMutablePointer<Header>

    private var storage: UnsafeMutablePointer<UInt8> {
        @inline(__always) get { header.pointee.storage }
    }

    private var capacity: Int {
        @inline(__always) get { header.pointee.capacity }
    }

    public private(set) var count: Int {
        @inline(__always) get { header.pointee.count }
        @inline(__always) set { header.pointee.count = newValue }
    }

    public init(capacity: Int = 4096) {
        let size = max(capacity, 64)
        header = .allocate(capacity: 1)
        header.initialize(to: Header(storage: .allocate(capacity: size), capacity: size, count: 0))
    }

    deinit {
        header.pointee.storage.deallocate()
        header.deallocate()
    }

    /// Room for `extra` more bytes; returns where they go (commit with `advance`).
    @inline(__always)
    func reserve(_ extra: Int) -> UnsafeMutablePointer<UInt8> {
        if count + extra > capacity { grow(count + extra) }
        return storage + count
    }

    @inline(__always)
    func advance(_ written: Int) { count += written }

    @inline(__always)
    public func append(_ byte: UInt8) {
        if count == capacity { grow(count + 1) }
        storage[count] = byte
        count += 1
    }

    @inline(__always)
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count).update(from: base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        count += bytes.count
    }

    public func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    public func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    public func removeAll() { count = 0 }

    /// Drops the first `length` bytes (written out), keeping the rest.
    public func removeFirst(_ length: Int) {
        let length = min(max(length, 0), count)
        guard length > 0 else { return }
        (storage).update(from: storage + length, count: count - length)
        count -= length
    }

    /// Drops the bytes after the first `length`.
    public func truncate(to length: Int) { count = min(count, max(length, 0)) }

    public func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try body(UnsafeRawBufferPointer(start: storage, count: count))
    }

    public func withBytes<T>(from start: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try body(UnsafeRawBufferPointer(start: storage + start, count: count - start))
    }

    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: storage, count: count)) }

    private func grow(_ needed: Int) {
        var size = capacity * 2
        while size < needed { size *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        bigger.update(from: storage, count: count)
        storage.deallocate()
        (header.pointee.storage, header.pointee.capacity) = (bigger, size)
    }
}
