import Synchronization

/// The data of one or more Modbus units: four sparse tables of defined
/// addresses. Reading or writing an address that was never defined is
/// exception 2. A request for V values costs O(V) whatever the store holds.
/// Safe to share between threads (a TCP server and an RTU slave may serve it).
public final class DataStore: Sendable {
    private let tables = Mutex<[Table: [UInt16: UInt16]]>([:])

    public init() {}

    /// Defines `values` from `offset` on (bits as 0 or 1), replacing what was there.
    public func define(_ table: Table, at offset: UInt16, values: [UInt16]) {
        tables.withLock { tables in
            for (index, value) in values.enumerated() where Int(offset) + index <= 0xFFFF {
                tables[table, default: [:]][offset + UInt16(index)] = table.isBits ? (value != 0 ? 1 : 0) : value
            }
        }
    }

    /// The values at `address..<address+count`; exception 2 if any is undefined.
    public func read(_ table: Table, address: UInt16, count: Int) throws(ModbusException) -> [UInt16] {
        let result: [UInt16]? = tables.withLock { tables in
            guard let values = tables[table] else { return nil }
            var out: [UInt16] = []
            out.reserveCapacity(count)
            for index in 0..<count {
                guard let value = values[address &+ UInt16(truncatingIfNeeded: index)] else { return nil }
                out.append(value)
            }
            return out
        }
        guard let result else { throw ModbusException(function: 0, code: .illegalDataAddress) }
        return result
    }

    /// Writes `values` from `address` on; exception 2, and nothing written, if any address is undefined.
    public func write(_ table: Table, address: UInt16, values: [UInt16]) throws(ModbusException) {
        let written: Bool = tables.withLock { tables in
            guard let defined = tables[table],
                  values.indices.allSatisfy({ defined[address &+ UInt16(truncatingIfNeeded: $0)] != nil }) else { return false }
            for (index, value) in values.enumerated() {
                tables[table]![address &+ UInt16(truncatingIfNeeded: index)] = table.isBits ? (value != 0 ? 1 : 0) : value
            }
            return true
        }
        guard written else { throw ModbusException(function: 0, code: .illegalDataAddress) }
    }

    /// One value, or nil where undefined.
    public func value(at address: ModbusAddress) -> UInt16? {
        tables.withLock { $0[address.table]?[address.offset] }
    }

    /// How many addresses of `table` are defined.
    public func count(_ table: Table) -> Int {
        tables.withLock { $0[table]?.count ?? 0 }
    }
}
