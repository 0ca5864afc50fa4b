import Modbus
import NIOCore

/// Which reads one poll cycle makes: the polled addresses of each table,
/// merged into one read while the next address is within `reach` of the
/// read's start, and split where a read would pass the spec's limit (123
/// registers, 1968 bits). Tables are never merged.
public struct PollPlan: Sendable, Hashable {
    /// One read request of a cycle: `count` values of `table` from `offset`.
    public struct Read: Sendable, Hashable {
        /// The table read.
        public let table: Table
        /// The first address read.
        public let offset: UInt16
        /// How many values are read, polled or not.
        public let count: Int

        /// The request that makes the read (FC1 to FC4).
        public var request: Request {
            switch table {
            case .coils: .readCoils(address: offset, count: UInt16(count))
            case .discreteInputs: .readDiscreteInputs(address: offset, count: UInt16(count))
            case .inputRegisters: .readInputRegisters(address: offset, count: UInt16(count))
            case .holdingRegisters: .readHoldingRegisters(address: offset, count: UInt16(count))
            }
        }
    }

    /// The reads of one cycle, table by table, each by address.
    public let reads: [Read]
    /// Reads stay within what every device takes (cpppo's limits; the spec's
    /// write limits, a little under its read limits of 125 and 2000).
    public static let registerLimit = 123
    /// The most coils or discrete inputs one read asks for.
    public static let bitLimit = 1968

    /// Plans the reads of `addresses`, merging those within `reach` of a read's
    /// first address.
    public init(addresses: Set<ModbusAddress>, reach: Int = 100) {
        var reads: [Read] = []
        for table in Table.allCases {
            let offsets = addresses.filter { $0.table == table }.map { Int($0.offset) }.sorted()
            let limit = table.isBits ? Self.bitLimit : Self.registerLimit
            var start: Int?
            var last = 0
            for offset in offsets {
                if let first = start, offset - first < reach, offset - first < limit {
                    last = offset
                    continue
                }
                if let first = start { reads.append(Read(table: table, offset: UInt16(first), count: last - first + 1)) }
                start = offset
                last = offset
            }
            if let first = start { reads.append(Read(table: table, offset: UInt16(first), count: last - first + 1)) }
        }
        self.reads = reads
    }
}

/// cpppo's load averages: the fraction of the poll period spent reading,
/// averaged over about 1, 5 and 15 minutes of polls, each updated after a
/// cycle as L ← L + (1 / (m·60 / rate)) · (load − L).
public struct LoadAverage: Sendable, Hashable {
    /// Over about a minute of polls.
    public private(set) var one = 0.0
    /// Over about five minutes of polls.
    public private(set) var five = 0.0
    /// Over about fifteen minutes of polls.
    public private(set) var fifteen = 0.0

    /// Averages of 0, before any cycle.
    public init() {}

    /// One cycle that spent `busy` reading, of a `period` between polls.
    public mutating func record(busy: Duration, period: Duration) {
        let rate = period.seconds
        let load = busy.seconds / rate
        one += (1 / (1 * 60 / rate)) * (load - one)
        five += (1 / (5 * 60 / rate)) * (load - five)
        fifteen += (1 / (15 * 60 / rate)) * (load - fifteen)
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
