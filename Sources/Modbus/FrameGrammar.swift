import Automata

/// The RTU frames that may come next, as an Automata machine: the replies to
/// one request (for a master), or the requests for a set of units (for a
/// slave). Every frame ends with its two CRC bytes, which the framer checks.
struct FrameGrammar: Sendable {
    /// Tried in order at each candidate start (those its first two bytes
    /// allow); the first that does not fail decides, as an alternation would.
    let machines: [Composite]
    /// The bytes a frame may start with (unit addresses).
    let firstBytes: [Bool]
    /// The one first byte, when there is one (memchr finds it).
    let onlyFirstByte: UInt8?
    /// Per (unit, function) pair, the machines that may start with it, as
    /// bits: noise that happens to hold a unit address is turned down at
    /// once, and a frame is tried only by the machines that can match it.
    let firstPairs: PairTable

    /// Each machine with the (unit, function) pairs it may start with.
    private init(_ machines: [(Machine, starts: [(unit: UInt8, function: UInt8)])]) {
        // These machines are a handful of states: compiling cannot hit the limits.
        self.machines = machines.map { try! $0.0.compile(alphabet: .bytes) }
        var table = [Bool](repeating: false, count: 256)
        var pairs: [UInt16: UInt8] = [:]
        for (index, machine) in machines.enumerated() {
            for start in machine.starts {
                table[Int(start.unit)] = true
                pairs[UInt16(start.unit) << 8 | UInt16(start.function), default: 0] |= 1 << UInt8(index)
            }
        }
        firstBytes = table
        firstPairs = PairTable(pairs)
        let units = Set(machines.flatMap { $0.starts.map(\.unit) })
        onlyFirstByte = units.count == 1 ? units.first : nil
    }

    /// The replies to `request` from `unit`: the normal reply or an exception,
    /// and the request itself as `sent` (its local echo, which the framer sets aside).
    static func replies(to request: Request, unit: UInt8, sent: [UInt8]) -> FrameGrammar {
        let function = request.function.rawValue
        let exception = Machine.pattern(.sequence([byte(function | 0x80), .symbols(SymbolSet(ranges: [1...255]))]))
        let normal = Machine.sequence([.pattern(byte(function)), replyBody(request)])
        let reply = Machine.sequence([.pattern(byte(unit)), .alternation([exception, normal]), crc])
        let echo = Machine.pattern(.literal(sent.map(UInt32.init)))
        let echoStart: [(unit: UInt8, function: UInt8)] = sent.count > 1 ? [(sent[0], sent[1])] : []
        return FrameGrammar([(echo, echoStart), (reply, [(unit, function), (unit, function | 0x80)])])
    }

    /// Every request a slave serving `units` may receive, broadcasts (unit 0) included.
    static func requests(units: Set<UInt8>) -> FrameGrammar {
        let addresses = units.union([0])
        let unit = RegexNode.symbols(SymbolSet(ranges: addresses.map { UInt32($0)...UInt32($0) }))
        let fixed: [(UInt8, Int)] = [(1, 4), (2, 4), (3, 4), (4, 4), (5, 4), (6, 4), (7, 0), (8, 4), (11, 0), (17, 0), (22, 6)]
        // The requests of fixed length are one DFA (unit, function, body and
        // CRC together): one run of the table decides them all.
        var fixedRequests = fixed.map { RegexNode.sequence([byte($0.0), any($0.1)]) }
        fixedRequests.append(.sequence([byte(0x2B), byte(0x0E), any(2)]))
        let oneDFA = Machine.pattern(.sequence([unit, .choice(fixedRequests), any(2)]))
        // The others end with a byte count and that many bytes: unit and
        // header are one DFA too, then the count, the data and the CRC.
        let headers = RegexNode.choice([.sequence([.symbols(SymbolSet(ranges: [0x0F...0x10])), any(4)]), .sequence([byte(0x17), any(8)])])
        let countedRequests = Machine.sequence([counted(header: .sequence([unit, headers])), crc])
        let fixedFunctions: [UInt8] = fixed.map(\.0) + [0x2B]
        let countedFunctions: [UInt8] = [0x0F, 0x10, 0x17]
        return FrameGrammar([(oneDFA, pairs(addresses, fixedFunctions)), (countedRequests, pairs(addresses, countedFunctions))])
    }

    private static func pairs(_ units: Set<UInt8>, _ functions: [UInt8]) -> [(unit: UInt8, function: UInt8)] {
        units.flatMap { unit in functions.map { (unit: unit, function: $0) } }
    }

    /// What follows the function code of a normal reply to `request`.
    private static func replyBody(_ request: Request) -> Machine {
        switch request {
        case .readCoils(_, let count), .readDiscreteInputs(_, let count):
            return .pattern(lengthThenData((Int(count) + 7) / 8))
        case .readHoldingRegisters(_, let count), .readInputRegisters(_, let count), .readWriteMultipleRegisters(_, let count, _, _):
            return .pattern(lengthThenData(Int(count) * 2))
        case .writeSingleCoil, .writeSingleRegister, .writeMultipleCoils, .writeMultipleRegisters, .getCommEventCounter:
            return .pattern(any(4))
        case .maskWriteRegister: return .pattern(any(6))
        case .readExceptionStatus: return .pattern(any(1))
        case .diagnostics(_, let data): return .pattern(any(2 + data.count))
        case .reportServerID: return counted(header: .empty)
        case .readDeviceIdentification: return deviceIdentification
        }
    }

    /// FC43/14's reply: MEI type, code, conformity, more, next, then N objects of id, length, value.
    private static var deviceIdentification: Machine {
        let object = Machine.sequence([.pattern(any(1)), .capture("length", .pattern(any(1))), .counted(.pattern(any(1)), .byte("length"))])
        return .sequence([.pattern(.sequence([byte(0x0E), any(4)])), .capture("objects", .pattern(any(1))), .counted(object, .byte("objects"))])
    }

    /// A header, a byte count, then that many bytes.
    private static func counted(header: RegexNode) -> Machine {
        .sequence([.pattern(header), .capture("count", .pattern(any(1))), .counted(.pattern(any(1)), .byte("count"))])
    }

    private static func lengthThenData(_ length: Int) -> RegexNode { .sequence([byte(UInt8(length)), any(length)]) }

    private static let crc = Machine.pattern(any(2))

    private static func byte(_ value: UInt8) -> RegexNode { .symbols(SymbolSet(UInt32(value))) }

    private static func any(_ count: Int) -> RegexNode {
        count == 0 ? .empty : .repetition(.any(.bytes), min: count, max: count)
    }
}

/// A grammar's (unit, function) pairs and the machines each allows: a full
/// table of 65,536 for many pairs (a slave's requests), a short list for the
/// few of one request's replies, so that a master can keep a grammar for
/// each request it sends without 64 KiB apiece.
struct PairTable: Sendable {
    private let table: [UInt8]
    private let keys: [UInt16]
    private let bits: [UInt8]

    init(_ pairs: [UInt16: UInt8]) {
        if pairs.count > 8 {
            var table = [UInt8](repeating: 0, count: 65536)
            for (key, value) in pairs { table[Int(key)] = value }
            (self.table, keys, bits) = (table, [], [])
        } else {
            (table, keys, bits) = ([], Array(pairs.keys), Array(pairs.values))
        }
    }

    /// The machines that may start with `unit` then `function`, as bits.
    @inline(__always) func machines(_ unit: UInt8, _ function: UInt8) -> UInt8 {
        let key = UInt16(unit) << 8 | UInt16(function)
        if !table.isEmpty { return table[Int(key)] }
        for index in keys.indices where keys[index] == key { return bits[index] }
        return 0
    }
}
