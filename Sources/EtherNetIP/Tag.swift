import Synchronization

/// A Logix tag: a name, a type (atomic or structure), up to three
/// dimensions, and its bytes (little-endian, as on the wire). Shared by
/// every connection.
public final class Tag: Sendable {
    /// The tag's name, as defined; lookups ignore case.
    public let name: String
    /// The type of each element.
    public let type: DataType
    /// Empty for a single value; otherwise up to three, outermost first.
    public let dimensions: [Int]
    /// The Symbol object instance that lists it (0x55) and addresses it.
    public let instance: UInt32
    /// Whether clients are refused writes (``CIPStatus/privilegeViolation``).
    public let readOnly: Bool
    /// Where the bytes live when not in `storage` (the gateway's registers).
    public let source: (any TagSource)?
    /// Runs on each access (see `TagHook`), one request at a time.
    public let hook: (any TagHook)?
    private let storage: Mutex<[UInt8]>
    private let hookTurn = Mutex(())
    private let forced = Atomic<UInt8>(0)

    /// A tag of `type` with `dimensions`, held in memory (zeros) unless `source`
    /// holds its bytes. ``TagTable`` makes tags and gives them their instances.
    public init(name: String, type: DataType, dimensions: [Int] = [], instance: UInt32, readOnly: Bool = false,
                source: (any TagSource)? = nil, hook: (any TagHook)? = nil) {
        self.name = name
        self.type = type
        self.dimensions = dimensions
        self.instance = instance
        self.readOnly = readOnly
        self.source = source
        self.hook = hook
        storage = Mutex(source == nil ? [UInt8](repeating: 0, count: type.size * dimensions.reduce(1, *)) : [])
    }

    /// Elements in all.
    public var count: Int { dimensions.reduce(1, *) }

    /// `count` bytes from byte `start`.
    public func bytes(at start: Int, count: Int) -> [UInt8] {
        storage.withLock { Array($0[start..<start + count]) }
    }

    /// Stores `bytes` from byte `start`.
    public func store(_ bytes: some Collection<UInt8>, at start: Int) {
        storage.withLock { $0.replaceSubrange(start..<start + bytes.count, with: bytes) }
    }

    /// A CIP general status every access to the tag fails with, 0 for none
    /// (cpppo's `tags.NAME.error`, set through the simulator's web API).
    public var error: UInt8 {
        get { forced.load(ordering: .relaxed) }
        set { forced.store(newValue, ordering: .relaxed) }
    }

    /// `body` with the tag's hook, no other request's hook call running for this tag.
    func withHook<T>(_ body: (any TagHook) throws(CIPStatus) -> T) throws(CIPStatus) -> T? {
        guard let hook else { return nil }
        return try hookTurn.withLock { _ throws(CIPStatus) in try body(hook) }
    }

    /// The elements from `first` as numbers (an atomic tag's; a BOOL array's DWORDs).
    public func values(from first: Int = 0, count: Int? = nil) -> [Double] {
        guard case .atomic(let type) = self.type else { return [] }
        guard first >= 0, first < self.count else { return [] }
        let count = min(count ?? self.count - first, self.count - first)
        guard count > 0 else { return [] }
        return type.numbers(bytes(at: first * type.size, count: count * type.size)[...])
    }

    /// Stores `values` from element `first` of an atomic tag, each converted
    /// to the tag's type (rounded toward zero and clamped for integers).
    public func set(_ values: [Double], from first: Int = 0) {
        guard case .atomic(let type) = self.type, first >= 0, first <= count - values.count else { return }
        store(values.flatMap { type.bytes(for: $0) }, at: first * type.size)
    }

    /// As `set`, but as a client's write: the tag's hook sees it (`didWrite`),
    /// as cpppo's web API writes go through the attribute's `__setitem__`.
    public func write(_ values: [Double], from first: Int = 0) {
        guard case .atomic(let type) = self.type, first >= 0, first <= count - values.count else { return }
        let bytes = values.flatMap { type.bytes(for: $0) }
        store(bytes, at: first * type.size)
        _ = try? withHook { hook in hook.didWrite(self, elements: first..<(first + values.count), bytes: bytes) }
    }

    /// Sets and clears bits from byte `start` at once (Read-Modify-Write,
    /// BOOL members): no other write comes between the read and the write.
    func modify(at start: Int, or orMask: some Collection<UInt8>, and andMask: some Collection<UInt8>) {
        storage.withLock { bytes in
            for (offset, (set, keep)) in zip(orMask, andMask).enumerated() {
                bytes[start + offset] = (bytes[start + offset] | set) & keep
            }
        }
    }
}
