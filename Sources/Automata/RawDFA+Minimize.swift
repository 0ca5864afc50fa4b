extension RawDFA {
    /// Hopcroft's partition refinement: the block of each state in the
    /// coarsest partition that respects acceptance and transitions.
    func minimalBlocks() -> (blockOf: [Int32], blockCount: Int) {
        var partition = Partition(accepting: accepting)
        let predecessors = Predecessors(of: self)
        var work = partition.initialWork()
        var inWork = [Bool](repeating: false, count: stateCount)
        for block in work { inWork[block] = true }
        while let splitter = work.popLast() {
            inWork[splitter] = false
            let members = partition.members(of: splitter)
            for symbolClass in 0..<classCount {
                let touched = partition.mark(predecessors.sources(of: members, on: symbolClass))
                for block in touched {
                    guard let newBlock = partition.split(block) else { continue }
                    if inWork[block] {
                        work.append(newBlock)
                        inWork[newBlock] = true
                    } else {
                        let smaller = partition.size(of: newBlock) <= partition.size(of: block) ? newBlock : block
                        work.append(smaller)
                        inWork[smaller] = true
                    }
                }
            }
        }
        return (partition.blockOf, partition.blockCount)
    }
}

/// The states with a transition into each state, per class, in one flat array.
private struct Predecessors {
    let stateCount: Int
    var offsets: [Int32]
    var sources: [Int32]

    init(of dfa: RawDFA) {
        stateCount = dfa.stateCount
        let slots = dfa.classCount * dfa.stateCount
        var counts = [Int32](repeating: 0, count: slots + 1)
        for state in 0..<dfa.stateCount {
            for symbolClass in 0..<dfa.classCount {
                counts[symbolClass * stateCount + dfa.next(state, symbolClass) + 1] += 1
            }
        }
        for slot in 0..<slots { counts[slot + 1] += counts[slot] }
        offsets = counts
        var fill = counts
        sources = [Int32](repeating: 0, count: slots)
        for state in 0..<dfa.stateCount {
            for symbolClass in 0..<dfa.classCount {
                let slot = symbolClass * stateCount + dfa.next(state, symbolClass)
                sources[Int(fill[slot])] = Int32(state)
                fill[slot] += 1
            }
        }
    }

    func sources(of targets: [Int32], on symbolClass: Int) -> [Int32] {
        var result: [Int32] = []
        for target in targets {
            let slot = symbolClass * stateCount + Int(target)
            result.append(contentsOf: sources[Int(offsets[slot])..<Int(offsets[slot + 1])])
        }
        return result
    }
}

/// Blocks of states kept as contiguous runs of one permutation, so that a
/// block splits by moving its marked states to its front.
private struct Partition {
    var elements: [Int32]
    var location: [Int]
    var blockOf: [Int32]
    var start: [Int] = []
    var end: [Int] = []
    var marked: [Int] = []

    var blockCount: Int { start.count }

    init(accepting: [Bool]) {
        let accepted = accepting.indices.filter { accepting[$0] }
        let rejected = accepting.indices.filter { !accepting[$0] }
        elements = (accepted + rejected).map(Int32.init)
        location = [Int](repeating: 0, count: accepting.count)
        blockOf = [Int32](repeating: 0, count: accepting.count)
        for (position, state) in elements.enumerated() { location[Int(state)] = position }
        for group in [accepted, rejected] where !group.isEmpty {
            let first = start.count == 0 ? 0 : end[end.count - 1]
            for state in group { blockOf[state] = Int32(start.count) }
            start.append(first)
            end.append(first + group.count)
            marked.append(0)
        }
    }

    func initialWork() -> [Int] { Array(0..<blockCount) }

    func size(of block: Int) -> Int { end[block] - start[block] }

    func members(of block: Int) -> [Int32] { Array(elements[start[block]..<end[block]]) }

    /// Moves each state to the marked front of its block; returns the blocks touched.
    mutating func mark(_ states: [Int32]) -> [Int] {
        var touched: [Int] = []
        for state in states {
            let block = Int(blockOf[Int(state)])
            let position = location[Int(state)]
            let boundary = start[block] + marked[block]
            if position < boundary { continue }
            let other = elements[boundary]
            elements.swapAt(position, boundary)
            location[Int(other)] = position
            location[Int(state)] = boundary
            if marked[block] == 0 { touched.append(block) }
            marked[block] += 1
        }
        return touched
    }

    /// Splits the marked front off `block` into a new block, unless all or none is marked.
    mutating func split(_ block: Int) -> Int? {
        let count = marked[block]
        marked[block] = 0
        if count == 0 || count == size(of: block) { return nil }
        let newBlock = blockCount
        start.append(start[block])
        end.append(start[block] + count)
        marked.append(0)
        start[block] += count
        for position in start[newBlock]..<end[newBlock] { blockOf[Int(elements[position])] = Int32(newBlock) }
        return newBlock
    }
}
