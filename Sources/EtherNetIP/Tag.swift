import Synchronization

/// A Logix tag: a name, an atomic type, up to three dimensions, and its
/// bytes (little-endian, as on the wire). Shared by every connection.
public final class Tag: Sendable {
    public let name: String
    public let type: CIPType
    /// Empty for a single value; otherwise up to three, outermost first.
    public let dimensions: [Int]
    /// The Symbol object instance that lists it (0x55) and addresses it.
    public let instance: UInt32
    public let readOnly: Bool
    private let storage: Mutex<[UInt8]>

    public init(name: String, type: CIPType, dimensions: [Int] = [], instance: UInt32, readOnly: Bool = false) {
        self.name = name
        self.type = type
        self.dimensions = dimensions
        self.instance = instance
        self.readOnly = readOnly
        storage = Mutex([UInt8](repeating: 0, count: type.size * dimensions.reduce(1, *)))
    }

    /// Elements in all.
    public var count: Int { dimensions.reduce(1, *) }

    /// The element at `indices` (one per dimension given, the rest 0) as a flat index.
    func element(at indices: [UInt32]) throws(CIPStatus) -> Int {
        guard indices.count <= max(dimensions.count, 0), dimensions.count > 0 || indices.isEmpty else { throw .pathSegmentError }
        var flat = 0
        for (position, size) in dimensions.enumerated() {
            let index = position < indices.count ? Int(indices[position]) : 0
            guard index < size else { throw .pathDestinationUnknown }
            flat = flat * size + index
        }
        return flat
    }

    /// The bytes of `count` elements from `first`.
    func read(first: Int, count: Int) throws(CIPStatus) -> [UInt8] {
        guard count >= 1, first + count <= self.count else { throw .elementsPastEnd }
        return storage.withLock { Array($0[first * type.size..<(first + count) * type.size]) }
    }

    /// Stores `bytes` at byte `offset` of the elements from `first`.
    func write(first: Int, offset: Int = 0, bytes: ArraySlice<UInt8>) throws(CIPStatus) {
        let start = first * type.size + offset
        guard start + bytes.count <= count * type.size else { throw .elementsPastEnd }
        storage.withLock { $0.replaceSubrange(start..<start + bytes.count, with: bytes) }
    }

    /// Sets and clears bits of one element atomically (Read-Modify-Write).
    func modify(element: Int, or orMask: ArraySlice<UInt8>, and andMask: ArraySlice<UInt8>) {
        storage.withLock { bytes in
            for (offset, (set, keep)) in zip(orMask, andMask).enumerated() {
                let index = element * type.size + offset
                bytes[index] = (bytes[index] | set) & keep
            }
        }
    }
}
