/// A nondeterministic machine over symbol classes, with ε-moves: Thompson's
/// construction of a pattern, or a DFA turned around for searching.
struct NFA {
    struct Edge {
        var classes: [Int32]
        var target: Int32
    }

    let classCount: Int
    private(set) var epsilon: [[Int32]] = []
    private(set) var edges: [[Edge]] = []
    private let limit: Int

    init(classCount: Int, limit: Int) {
        self.classCount = classCount
        self.limit = limit
    }

    var stateCount: Int { epsilon.count }

    mutating func addState() throws(StateLimitError) -> Int32 {
        if epsilon.count >= limit { throw StateLimitError(limit: limit, stage: "the NFA") }
        epsilon.append([])
        edges.append([])
        return Int32(epsilon.count - 1)
    }

    mutating func addEpsilon(from: Int32, to: Int32) {
        epsilon[Int(from)].append(to)
    }

    mutating func addEdge(from: Int32, classes: [Int32], to: Int32) {
        edges[Int(from)].append(Edge(classes: classes, target: to))
    }
}

/// Thompson's construction: each node becomes a fragment with one entry and one exit.
struct ThompsonBuilder {
    var nfa: NFA
    let symbolClasses: SymbolClasses
    private var classCache: [SymbolSet: [Int32]] = [:]

    init(symbolClasses: SymbolClasses, limit: Int) {
        self.symbolClasses = symbolClasses
        self.nfa = NFA(classCount: symbolClasses.count, limit: limit)
    }

    /// Adds `node` and returns its (entry, exit) states.
    mutating func build(_ node: RegexNode) throws(StateLimitError) -> (Int32, Int32) {
        switch node {
        case .empty:
            let state = try nfa.addState()
            return (state, state)
        case .symbols(let set):
            let entry = try nfa.addState()
            let exit = try nfa.addState()
            nfa.addEdge(from: entry, classes: classes(of: set), to: exit)
            return (entry, exit)
        case .sequence(let parts):
            return try buildSequence(parts)
        case .choice(let choices):
            return try buildChoice(choices)
        case .repetition(let inner, let min, let max):
            return try buildRepetition(inner, min: min, max: max)
        }
    }

    private mutating func classes(of set: SymbolSet) -> [Int32] {
        if let cached = classCache[set] { return cached }
        let found = symbolClasses.classes(of: set)
        classCache[set] = found
        return found
    }

    private mutating func buildSequence(_ parts: [RegexNode]) throws(StateLimitError) -> (Int32, Int32) {
        let entry = try nfa.addState()
        var exit = entry
        for part in parts {
            let (partEntry, partExit) = try build(part)
            nfa.addEpsilon(from: exit, to: partEntry)
            exit = partExit
        }
        return (entry, exit)
    }

    private mutating func buildChoice(_ choices: [RegexNode]) throws(StateLimitError) -> (Int32, Int32) {
        let entry = try nfa.addState()
        let exit = try nfa.addState()
        for choice in choices {
            let (choiceEntry, choiceExit) = try build(choice)
            nfa.addEpsilon(from: entry, to: choiceEntry)
            nfa.addEpsilon(from: choiceExit, to: exit)
        }
        return (entry, exit)
    }

    /// `x{min,max}`: `min` copies in a row, then `max - min` optional copies
    /// (or a loop when there is no maximum).
    private mutating func buildRepetition(_ inner: RegexNode, min: Int, max: Int?) throws(StateLimitError) -> (Int32, Int32) {
        let entry = try nfa.addState()
        var exit = entry
        for _ in 0..<min {
            let (copyEntry, copyExit) = try build(inner)
            nfa.addEpsilon(from: exit, to: copyEntry)
            exit = copyExit
        }
        guard let max else {
            let (loopEntry, loopExit) = try build(inner)
            let loopEnd = try nfa.addState()
            nfa.addEpsilon(from: exit, to: loopEntry)
            nfa.addEpsilon(from: exit, to: loopEnd)
            nfa.addEpsilon(from: loopExit, to: loopEntry)
            nfa.addEpsilon(from: loopExit, to: loopEnd)
            return (entry, loopEnd)
        }
        let end = try nfa.addState()
        for _ in min..<max {
            let (copyEntry, copyExit) = try build(inner)
            nfa.addEpsilon(from: exit, to: copyEntry)
            nfa.addEpsilon(from: exit, to: end)
            exit = copyExit
        }
        nfa.addEpsilon(from: exit, to: end)
        return (entry, end)
    }
}
