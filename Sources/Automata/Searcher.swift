/// Finds the first match of a machine anywhere in a buffer.
///
/// Three machines share the work: `anywhere` (Σ*R) finds the earliest end
/// `e` of any match in one forward pass; `prefixesBackward` (the reverse of
/// the prefixes of R) reads back from `e` to list the only starts that can
/// reach a match (the leftmost match ends at or after `e`, so its start spells
/// a prefix of R up to `e`); the anchored machine then tries them leftmost first.
public struct Searcher: Sendable {
    /// The anchored machine, whose matches are found.
    public let dfa: DFA
    let anywhere: DFA
    let prefixesBackward: DFA
    /// Bytes only: the one byte every match starts with, when `anywhere`
    /// waits in its start state for it, so memchr can find the candidates.
    let firstByte: UInt8?

    /// Builds the two search machines for `dfa`, each made minimal.
    /// - Throws: ``StateLimitError`` when a search machine passes `options.maxStates`
    ///   (searching can take more states than matching).
    public init(_ dfa: DFA, options: CompileOptions = .init()) throws(StateLimitError) {
        self.dfa = dfa
        anywhere = try dfa.derived(reversed: false, options: options)
        prefixesBackward = try dfa.derived(reversed: true, options: options)
        firstByte = dfa.alphabet == .bytes ? anywhere.onlyExitByte() : nil
    }

    /// The first match at or after byte `offset`: leftmost start, and from it
    /// the longest match (`greedy`) or the shortest. Offsets count bytes.
    public func search(_ input: UnsafeBufferPointer<UInt8>, from offset: Int = 0, greedy: Bool = true) -> Range<Int>? {
        precondition(offset >= 0 && offset <= input.count, "offset outside the input")
        switch dfa.alphabet {
        case .bytes:
            return dfa.classes.byteClass.withUnsafeBufferPointer { classOf in
                search(ByteInput(bytes: input, classOf: classOf), from: offset, greedy: greedy)
            }
        case .unicode:
            let text = DecodedText(input, from: offset, classes: dfa.classes)
            let found = text.classes.withUnsafeBufferPointer { search(ClassInput(classes: $0), from: 0, greedy: greedy) }
            return found.map { text.offsets[$0.lowerBound]..<text.offsets[$0.upperBound] }
        }
    }

    /// The first match at or after byte `offset`; the same as the buffer form.
    public func search(_ input: [UInt8], from offset: Int = 0, greedy: Bool = true) -> Range<Int>? {
        input.withUnsafeBufferPointer { search($0, from: offset, greedy: greedy) }
    }

    /// The first match in `text`, as a range of UTF-8 byte offsets.
    public func search(_ text: String, greedy: Bool = true) -> Range<Int>? {
        search(Array(text.utf8), greedy: greedy)
    }

    /// Every match, left to right, each starting where the last ended (an
    /// empty match moves on by one symbol).
    public func matches(_ input: [UInt8], greedy: Bool = true) -> [Range<Int>] {
        var found: [Range<Int>] = []
        var offset = 0
        while offset <= input.count, let range = search(input, from: offset, greedy: greedy) {
            found.append(range)
            offset = range.isEmpty ? range.upperBound + 1 : range.upperBound
        }
        return found
    }

    @inline(__always)
    func search<Input: SymbolInput>(_ input: Input, from: Int, greedy: Bool) -> Range<Int>? {
        let earliest: Int?
        if let firstByte, let bytes = input as? ByteInput {
            earliest = anywhere.earliestEnd(bytes, from: from, skippingTo: firstByte)
        } else {
            earliest = anywhere.earliestEnd(input, from: from)
        }
        guard let end = earliest else { return nil }
        let backward = ReversedInput(base: input, count: end)
        for length in prefixesBackward.acceptedLengths(backward, limit: end - from).reversed() {
            let start = end - length
            if let matchEnd = dfa.matchEnd(input, from: start, greedy: greedy) { return start..<matchEnd }
        }
        return nil
    }
}

extension DFA {
    /// A searcher for this machine.
    public func searcher(options: CompileOptions = .init()) throws(StateLimitError) -> Searcher {
        try Searcher(self, options: options)
    }

    /// Σ*R (`reversed: false`) or the reverse of R's prefixes (`reversed: true`), minimal.
    func derived(reversed: Bool, options: CompileOptions) throws(StateLimitError) -> DFA {
        var nfa = NFA(classCount: classCount, limit: stateCount + 1)
        for _ in 0...stateCount { _ = try nfa.addState() }
        let extra = Int32(stateCount)
        let live = (0..<stateCount).filter { Int32($0 * classCount) != dead }
        for state in live {
            var byTarget: [Int32: [Int32]] = [:]
            for symbolClass in 0..<classCount {
                let target = table[state * classCount + symbolClass]
                if target != dead { byTarget[target / Int32(classCount), default: []].append(Int32(symbolClass)) }
            }
            for (target, classes) in byTarget {
                if reversed {
                    nfa.addEdge(from: target, classes: classes, to: Int32(state))
                } else {
                    nfa.addEdge(from: Int32(state), classes: classes, to: target)
                }
            }
        }
        var accepting = [Bool](repeating: false, count: stateCount + 1)
        let starts: [Int32]
        if reversed {
            starts = live.map(Int32.init)
            if start != dead { accepting[Int(start) / classCount] = true }
        } else {
            nfa.addEdge(from: extra, classes: (0..<Int32(classCount)).map { $0 }, to: extra)
            nfa.addEpsilon(from: extra, to: start / Int32(classCount))
            starts = [extra]
            for state in live where Int32(state * classCount) >= firstAccepting { accepting[state] = true }
        }
        let stage = reversed ? "the backward search DFA" : "the search DFA"
        let raw = try nfa.determinize(starts: starts, accepting: accepting, limit: options.maxStates, stage: stage)
        return DFA(minimizing: raw, classes: classes, name: name)
    }
}
