/// A minimal deterministic finite automaton with a dense transition table.
///
/// States are numbered so that the dead state (if the language has one) is 0
/// and accepting states come last; the table holds state numbers already
/// multiplied by the class count, so that a step is one load.
public struct DFA: Sendable {
    /// The symbols the machine reads: bytes, or Unicode scalars decoded from UTF-8.
    public let alphabet: Alphabet
    /// What the machine was built from, for display.
    public let name: String
    let classes: SymbolClasses
    let table: [Int32]
    /// The number of states, the dead state included: the same count greenery's
    /// `to_fsm().reduce()` gives.
    public let stateCount: Int
    let start: Int32
    let firstAccepting: Int32
    /// The dead state's offset, or -1 when every state can still reach acceptance.
    let dead: Int32
    /// Per state: accepting, and every symbol leads to the dead state.
    let finalStates: [Bool]
    /// Two-symbol steps for the hot loops, when the table is small enough.
    let pairs: PairTable?

    var classCount: Int { classes.count }

    /// Compiles `regex` to its minimal machine.
    /// - Throws: `RegexError` for a malformed pattern, `StateLimitError` when a limit is passed.
    public init(regex: String, alphabet: Alphabet = .unicode, options: CompileOptions = .init()) throws {
        let node = try RegexParser.parse(regex, alphabet: alphabet)
        try self.init(node: node, alphabet: alphabet, name: regex, options: options)
    }

    /// Compiles a parsed pattern to its minimal machine.
    public init(node: RegexNode, alphabet: Alphabet, name: String = "", options: CompileOptions = .init()) throws(StateLimitError) {
        let classes = SymbolClasses(alphabet: alphabet, sets: node.symbolSets)
        var builder = ThompsonBuilder(symbolClasses: classes, limit: options.maxNFAStates)
        let (entry, exit) = try builder.build(node)
        var accepting = [Bool](repeating: false, count: builder.nfa.stateCount)
        accepting[Int(exit)] = true
        let raw = try builder.nfa.determinize(starts: [entry], accepting: accepting, limit: options.maxStates, stage: "the DFA")
        self.init(minimizing: raw, classes: classes, name: name)
    }

    /// The minimal form of `raw`, renumbered: dead first, accepting last.
    init(minimizing raw: RawDFA, classes: SymbolClasses, name: String) {
        let (blockOf, blockCount) = raw.minimalBlocks()
        var representative = [Int](repeating: -1, count: blockCount)
        for state in 0..<raw.stateCount where representative[Int(blockOf[state])] < 0 {
            representative[Int(blockOf[state])] = state
        }
        let (order, hasDead) = Self.stateOrder(raw: raw, blockOf: blockOf, representative: representative)
        var number = [Int32](repeating: 0, count: blockCount)
        for (index, block) in order.enumerated() { number[block] = Int32(index) }
        let width = raw.classCount
        var table = [Int32](repeating: 0, count: blockCount * width)
        for (index, block) in order.enumerated() {
            for symbolClass in 0..<width {
                let target = number[Int(blockOf[raw.next(representative[block], symbolClass)])]
                table[index * width + symbolClass] = target * Int32(width)
            }
        }
        let acceptingCount = order.filter { raw.accepting[representative[$0]] }.count
        self.alphabet = classes.alphabet
        self.name = name
        self.classes = classes
        self.table = table
        self.stateCount = blockCount
        let firstAccepting = Int32(blockCount - acceptingCount) * Int32(width)
        let dead: Int32 = hasDead ? 0 : -1
        self.start = number[Int(blockOf[0])] * Int32(width)
        self.firstAccepting = firstAccepting
        self.dead = dead
        self.pairs = PairTable(table: table, classCount: width, stateCount: blockCount, firstAccepting: firstAccepting, dead: dead)
        self.finalStates = (0..<blockCount).map { index in
            index >= blockCount - acceptingCount && hasDead
                && (0..<width).allSatisfy { table[index * width + $0] == 0 }
        }
    }

    /// Blocks in their new order: the dead block (if any), other rejecting blocks, accepting blocks.
    private static func stateOrder(raw: RawDFA, blockOf: [Int32], representative: [Int]) -> (order: [Int], hasDead: Bool) {
        let blocks = Array(representative.indices)
        let dead = blocks.filter { isDead(block: $0, raw: raw, blockOf: blockOf, representative: representative) }
        let rejecting = blocks.filter { !raw.accepting[representative[$0]] && !dead.contains($0) }
        let accepting = blocks.filter { raw.accepting[representative[$0]] }
        return (dead + rejecting + accepting, !dead.isEmpty)
    }

    private static func isDead(block: Int, raw: RawDFA, blockOf: [Int32], representative: [Int]) -> Bool {
        let state = representative[block]
        return !raw.accepting[state] && (0..<raw.classCount).allSatisfy { Int(blockOf[raw.next(state, $0)]) == block }
    }

    /// Whether the state at table offset `state` accepts.
    @inline(__always) func accepts(state: Int32) -> Bool { state >= firstAccepting }

    /// The next state after reading a symbol of class `symbolClass`.
    @inline(__always) func step(_ state: Int32, _ symbolClass: Int32) -> Int32 {
        table.withUnsafeBufferPointer { $0[Int(state &+ symbolClass)] }
    }

    /// Whether the state at `state` is accepting and can read nothing more.
    func isFinal(state: Int32) -> Bool { finalStates[Int(state) / classCount] }
}
