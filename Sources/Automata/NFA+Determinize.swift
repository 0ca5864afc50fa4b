/// A complete deterministic machine straight from the subset construction,
/// before minimisation. State 0 is the start.
struct RawDFA {
    let classCount: Int
    /// `table[state * classCount + class]` is the next state.
    var table: [Int32]
    var accepting: [Bool]

    var stateCount: Int { accepting.count }

    func next(_ state: Int, _ symbolClass: Int) -> Int { Int(table[state * classCount + symbolClass]) }
}

extension NFA {
    /// The subset construction from the ε-closure of `starts`; a subset
    /// accepts when it holds a state marked in `accepting`.
    func determinize(starts: [Int32], accepting: [Bool], limit: Int, stage: String) throws(StateLimitError) -> RawDFA {
        // Only states with symbol edges, or accepting ones, tell subsets apart.
        let important = (0..<stateCount).map { !edges[$0].isEmpty || accepting[$0] }
        var closure = ClosureFinder(nfa: self, important: important)
        var subsets: [[Int32]] = [closure.close(starts)]
        var index: [[Int32]: Int32] = [subsets[0]: 0]
        var table: [Int32] = []
        var isAccepting: [Bool] = []
        var buckets = [[Int32]](repeating: [], count: classCount)
        var next = 0
        while next < subsets.count {
            let subset = subsets[next]
            next += 1
            isAccepting.append(subset.contains { accepting[Int($0)] })
            for i in buckets.indices { buckets[i].removeAll(keepingCapacity: true) }
            for state in subset {
                for edge in edges[Int(state)] {
                    for symbolClass in edge.classes { buckets[Int(symbolClass)].append(edge.target) }
                }
            }
            for bucket in buckets {
                let target = closure.close(bucket)
                if let known = index[target] {
                    table.append(known)
                    continue
                }
                if subsets.count >= limit { throw StateLimitError(limit: limit, stage: stage) }
                index[target] = Int32(subsets.count)
                table.append(Int32(subsets.count))
                subsets.append(target)
            }
        }
        return RawDFA(classCount: classCount, table: table, accepting: isAccepting)
    }
}

/// ε-closures of sets of NFA states, as sorted arrays usable as keys.
private struct ClosureFinder {
    let nfa: NFA
    let important: [Bool]
    private var mark: [UInt32]
    private var generation: UInt32 = 0
    private var stack: [Int32] = []

    init(nfa: NFA, important: [Bool]) {
        self.nfa = nfa
        self.important = important
        mark = [UInt32](repeating: 0, count: nfa.stateCount)
    }

    mutating func close(_ states: [Int32]) -> [Int32] {
        generation &+= 1
        var result: [Int32] = []
        stack.removeAll(keepingCapacity: true)
        for state in states where mark[Int(state)] != generation {
            mark[Int(state)] = generation
            stack.append(state)
        }
        while let state = stack.popLast() {
            if important[Int(state)] { result.append(state) }
            for target in nfa.epsilon[Int(state)] where mark[Int(target)] != generation {
                mark[Int(target)] = generation
                stack.append(target)
            }
        }
        result.sort()
        return result
    }
}
