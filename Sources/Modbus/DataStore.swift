import Synchronization

/// The data of one or more Modbus units: four sparse tables of defined
/// addresses. Reading or writing an address that was never defined is
/// exception 2. A request for V values costs O(V) whatever the store holds.
/// Safe to share between threads (a TCP server and an RTU slave may serve it).
public final class DataStore: Sendable {
    private let tables = Mutex<[SparseTable]>(Array(repeating: SparseTable(), count: Table.allCases.count))
    /// Exceptions forced on addresses (the simulator's web API), and how many:
    /// a store with none pays one atomic load per request.
    private let errors = Mutex<[ModbusAddress: ExceptionCode]>([:])
    private let errorCount = Atomic(0)

    /// An empty store: every address is undefined until defined.
    public init() {}

    /// Every access to `address` fails with `code` (nil: serves it again).
    public func setError(_ code: ExceptionCode?, at address: ModbusAddress) {
        errors.withLock { errors in
            errors[address] = code
            errorCount.store(errors.count, ordering: .relaxed)
        }
    }

    /// The exception forced on `address`, if any.
    public func error(at address: ModbusAddress) -> ExceptionCode? {
        errorCount.load(ordering: .relaxed) == 0 ? nil : errors.withLock { $0[address] }
    }

    /// The first exception forced on `count` addresses from `address`.
    private func forcedError(_ table: Table, _ address: UInt16, _ count: Int) -> ExceptionCode? {
        guard errorCount.load(ordering: .relaxed) > 0 else { return nil }
        return errors.withLock { errors -> ExceptionCode? in
            for index in 0..<count {
                if let code = errors[ModbusAddress(table: table, offset: address &+ UInt16(truncatingIfNeeded: index))] { return code }
            }
            return nil
        }
    }

    /// The addresses of `table` that are defined, in order.
    public func defined(_ table: Table) -> [UInt16] {
        tables.withLock { $0[table.index].addresses }
    }

    /// Defines `values` from `offset` on (bits as 0 or 1), replacing what was there.
    public func define(_ table: Table, at offset: UInt16, values: [UInt16]) {
        tables.withLock { tables in
            for (index, value) in values.enumerated() where Int(offset) + index <= 0xFFFF {
                tables[table.index].define(offset + UInt16(index), table.isBits ? (value != 0 ? 1 : 0) : value)
            }
        }
    }

    /// The values at `address..<address+count`; exception 2 if any is undefined.
    public func read(_ table: Table, address: UInt16, count: Int) throws(ModbusException) -> [UInt16] {
        if let forced = forcedError(table, address, count) { throw ModbusException(function: 0, code: forced) }
        let result: [UInt16]? = tables.withLock { tables in
            let sparse = tables[table.index]
            var out: [UInt16] = []
            out.reserveCapacity(count)
            for index in 0..<count {
                guard let value = sparse.value(at: address &+ UInt16(truncatingIfNeeded: index)) else { return nil }
                out.append(value)
            }
            return out
        }
        guard let result else { throw ModbusException(function: 0, code: .illegalDataAddress) }
        return result
    }

    /// Writes `values` from `address` on; exception 2, and nothing written, if any address is undefined.
    public func write(_ table: Table, address: UInt16, values: [UInt16]) throws(ModbusException) {
        if let forced = forcedError(table, address, values.count) { throw ModbusException(function: 0, code: forced) }
        let written: Bool = tables.withLock { tables in
            let at = table.index
            guard values.indices.allSatisfy({ tables[at].value(at: address &+ UInt16(truncatingIfNeeded: $0)) != nil }) else { return false }
            for (index, value) in values.enumerated() {
                tables[at].define(address &+ UInt16(truncatingIfNeeded: index), table.isBits ? (value != 0 ? 1 : 0) : value)
            }
            return true
        }
        guard written else { throw ModbusException(function: 0, code: .illegalDataAddress) }
    }

    /// One value, or nil where undefined.
    public func value(at address: ModbusAddress) -> UInt16? {
        tables.withLock { $0[address.table.index].value(at: address.offset) }
    }

    /// How many addresses of `table` are defined.
    public func count(_ table: Table) -> Int {
        tables.withLock { $0[table.index].count }
    }
}

/// One table's 65536 addresses as 256 pages of 256, a page allocated once
/// any of its addresses is defined: a lookup is two array loads, with no
/// hashing (a dictionary of addresses cost the TCP server 5% of its requests).
struct SparseTable: Sendable {
    private struct Page: Sendable {
        var values = [UInt16](repeating: 0, count: 256)
        var defined = [Bool](repeating: false, count: 256)
    }

    private var pages = [Page?](repeating: nil, count: 256)
    private(set) var count = 0

    func value(at address: UInt16) -> UInt16? {
        let (page, slot) = (Int(address >> 8), Int(address & 0xFF))
        // Read in place: binding the page would copy (retain) its arrays.
        guard pages[page]?.defined[slot] == true else { return nil }
        return pages[page]?.values[slot]
    }

    var addresses: [UInt16] {
        pages.indices.flatMap { page -> [UInt16] in
            guard let defined = pages[page]?.defined else { return [] }
            return defined.indices.filter { defined[$0] }.map { UInt16(page << 8 | $0) }
        }
    }

    mutating func define(_ address: UInt16, _ value: UInt16) {
        let (page, slot) = (Int(address >> 8), Int(address & 0xFF))
        if pages[page] == nil { pages[page] = Page() }
        if !pages[page]!.defined[slot] {
            pages[page]!.defined[slot] = true
            count += 1
        }
        pages[page]!.values[slot] = value
    }
}

extension Table {
    /// Position in `allCases`, for tables kept in an array.
    var index: Int {
        switch self {
        case .coils: 0
        case .discreteInputs: 1
        case .inputRegisters: 2
        case .holdingRegisters: 3
        }
    }
}
