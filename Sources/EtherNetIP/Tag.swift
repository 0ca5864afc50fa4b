import Synchronization

/// A Logix tag: a name, a type (atomic or structure), up to three
/// dimensions, and its bytes (little-endian, as on the wire). Shared by
/// every connection.
public final class Tag: Sendable {
    public let name: String
    public let type: DataType
    /// Empty for a single value; otherwise up to three, outermost first.
    public let dimensions: [Int]
    /// The Symbol object instance that lists it (0x55) and addresses it.
    public let instance: UInt32
    public let readOnly: Bool
    /// Where the bytes live when not in `storage` (the gateway's registers).
    public let source: (any TagSource)?
    private let storage: Mutex<[UInt8]>

    public init(name: String, type: DataType, dimensions: [Int] = [], instance: UInt32, readOnly: Bool = false,
                source: (any TagSource)? = nil) {
        self.name = name
        self.type = type
        self.dimensions = dimensions
        self.instance = instance
        self.readOnly = readOnly
        self.source = source
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
