/// A compiled `Machine`: minimal DFAs joined by the steps that need the input itself.
public struct Composite: Sendable {
    indirect enum Step: Sendable {
        case dfa(Part)
        case sequence([Step])
        case alternation([Step])
        case repetition(Step, min: Int, max: Int?)
        case capture(String, Step)
        case counted(Step, Count)
    }

    /// A recognised sentence: where it ends, and where each capture matched.
    public struct Match: Sendable, Hashable {
        /// The offset just past the sentence, counted in bytes from the start of the
        /// input (not from where matching began).
        public let end: Int
        /// Every capture in the order matched (a repeated one, each time).
        let recorded: [Capture]

        init(end: Int, recorded: [Capture]) {
            self.end = end
            self.recorded = recorded
        }

        init(end: Int, captures: [String: Range<Int>]) {
            self.init(end: end, recorded: captures.map { Capture(name: $0.key, range: $0.value) })
        }

        /// Where each capture matched last.
        public var captures: [String: Range<Int>] {
            Dictionary(recorded.map { ($0.name, $0.range) }, uniquingKeysWith: { $1 })
        }

        /// Matches are equal when they end at the same place with the same captures.
        public static func == (lhs: Match, rhs: Match) -> Bool {
            lhs.end == rhs.end && lhs.captures == rhs.captures
        }

        /// Hashes the end and the captures, as `==` compares them.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(end)
            hasher.combine(captures)
        }
    }

    /// Captures are kept in a list while matching: a failed branch is undone
    /// by cutting the list back, with no dictionary to copy or hash.
    struct Capture: Sendable, Hashable {
        let name: String
        let range: Range<Int>
    }

    /// What matching found: a sentence, none, or not yet enough input to tell.
    public enum Outcome: Sendable, Hashable {
        /// A sentence was recognised: where it ends, and what each capture matched.
        case matched(Match)
        /// The input cannot start a sentence here.
        case failed
        /// The input ends before the machine can decide.
        case needsMore
    }

    /// A DFA of the machine, behind one reference: matching binds it at every
    /// step, and binding the struct itself retained each of its arrays.
    final class Part: Sendable {
        let dfa: DFA
        /// n when the DFA's language is every string of n symbols: repeating
        /// it skips input instead of running the table (a byte count's data).
        let anyLength: Int?

        init(_ dfa: DFA) {
            self.dfa = dfa
            anyLength = dfa.anyLength
        }
    }

    let root: Step

    /// When the whole machine is one DFA, that DFA.
    public var dfa: DFA? {
        if case .dfa(let part) = root { return part.dfa }
        return nil
    }

    /// Recognises a sentence at `offset`. With `complete: false` more input may
    /// follow, so an undecided machine answers `needsMore`; with `true` it takes
    /// the best it has. `greedy` applies to each DFA part.
    public func match(_ input: [UInt8], at offset: Int = 0, complete: Bool = true, greedy: Bool = true) -> Outcome {
        input.withUnsafeBufferPointer { buffer in
            let run = Run(input: buffer, complete: complete, greedy: greedy)
            if case .dfa(let part) = root { return run.outcome(part.dfa, at: offset) }
            var captures: [Composite.Capture] = []
            switch run.match(root, at: offset, captures: &captures) {
            case .matched(let end): return .matched(Match(end: end, recorded: captures))
            case .failed: return .failed
            case .needsMore: return .needsMore
            }
        }
    }
}

/// One attempt to match a composite over a buffer.
private struct Run {
    enum Result { case matched(Int), failed, needsMore }

    let input: UnsafeBufferPointer<UInt8>
    let complete: Bool
    let greedy: Bool

    func match(_ step: Composite.Step, at offset: Int, captures: inout [Composite.Capture]) -> Result {
        switch step {
        case .dfa(let part):
            return matchDFA(part.dfa, at: offset)
        case .sequence(let steps):
            var position = offset
            for part in steps {
                let result = match(part, at: position, captures: &captures)
                guard case .matched(let end) = result else { return result }
                position = end
            }
            return .matched(position)
        case .alternation(let choices):
            let mark = captures.count
            for choice in choices {
                let result = match(choice, at: offset, captures: &captures)
                guard case .failed = result else { return result }
                captures.removeSubrange(mark...)
            }
            return .failed
        case .repetition(let part, let min, let max):
            return repeatPart(part, at: offset, min: min, max: max, captures: &captures)
        case .capture(let name, let part):
            // A byte count: the byte itself, with no table to run.
            let result = if case .dfa(let dfa) = part, let length = dfa.anyLength { skip(length, from: offset) } else {
                match(part, at: offset, captures: &captures)
            }
            if case .matched(let end) = result { captures.append(Composite.Capture(name: name, range: offset..<end)) }
            return result
        case .counted(let part, let count):
            guard let range = captures.last(where: { $0.name == count.capture })?.range,
                  let times = count.isOneByte && range.count == 1 ? Int(input[range.lowerBound]) : count.decode(Array(input[range])) else {
                return .failed
            }
            if case .dfa(let dfa) = part, let length = dfa.anyLength { return skip(length * times, from: offset) }
            return repeatPart(part, at: offset, min: times, max: times, captures: &captures)
        }
    }

    private func repeatPart(_ part: Composite.Step, at offset: Int, min: Int, max: Int?, captures: inout [Composite.Capture]) -> Result {
        var position = offset
        var times = 0
        while max.map({ times < $0 }) ?? true {
            let mark = captures.count
            switch match(part, at: position, captures: &captures) {
            case .needsMore: return .needsMore
            case .failed:
                captures.removeSubrange(mark...)
                return times >= min ? .matched(position) : .failed
            case .matched(let end):
                times += 1
                // An empty match would repeat for ever; it satisfies any remaining count.
                if end == position { return .matched(position) }
                position = end
            }
        }
        return .matched(position)
    }

    /// `length` symbols of anything (bytes only: a Unicode machine is never `anyLength`).
    private func skip(_ length: Int, from offset: Int) -> Result {
        if input.count - offset >= length { return .matched(offset + length) }
        return complete ? .failed : .needsMore
    }

    /// A machine that is one DFA, matched with no captures to collect.
    func outcome(_ dfa: DFA, at offset: Int) -> Composite.Outcome {
        switch matchDFA(dfa, at: offset) {
        case .matched(let end): .matched(Composite.Match(end: end, recorded: []))
        case .failed: .failed
        case .needsMore: .needsMore
        }
    }

    private func matchDFA(_ dfa: DFA, at offset: Int) -> Result {
        let (end, ranOut) = dfa.prefix(input, at: offset, greedy: greedy)
        if ranOut && !complete { return .needsMore }
        return end.map(Result.matched) ?? .failed
    }
}

extension DFA {
    /// The anchored match at `offset`, and whether the input ran out while the
    /// machine could still read more (so more input might change the answer).
    func prefix(_ input: UnsafeBufferPointer<UInt8>, at offset: Int, greedy: Bool) -> (end: Int?, ranOut: Bool) {
        guard alphabet == .bytes else { return prefixDecoding(input, at: offset, greedy: greedy) }
        // The byte loop of the RTU framer, tried at every candidate start:
        // straight on the tables, with no Recognizer to build (copying the DFA
        // into one cost more than the matching).
        return classes.byteClass.withUnsafeBufferPointer { classOf in
            table.withUnsafeBufferPointer { table in
                var state = start
                var last = state >= firstAccepting ? offset : -1
                if last >= 0 && (!greedy || isFinal(state: state)) { return (offset, false) }
                var index = offset
                while index < input.count {
                    state = table[Int(state &+ classOf[Int(input[index])])]
                    index &+= 1
                    if state == dead { return (last < 0 ? nil : last, false) }
                    if state >= firstAccepting {
                        last = index
                        if !greedy || isFinal(state: state) { return (index, false) }
                    }
                }
                return (last < 0 ? nil : last, true)
            }
        }
    }

    /// n when the language is every string of exactly n bytes: each state up
    /// to the n-th leads every byte to one next state, and the n-th accepts
    /// and reads no further.
    var anyLength: Int? {
        guard alphabet == .bytes else { return nil }
        var state = start
        for length in 0...stateCount {
            let next = step(state, 0)
            let uniform = (1..<Int32(classCount)).allSatisfy { step(state, $0) == next }
            if accepts(state: state) { return uniform && next == dead && dead >= 0 ? length : nil }
            guard uniform, next != dead else { return nil }
            state = next
        }
        return nil
    }

    private func prefixDecoding(_ input: UnsafeBufferPointer<UInt8>, at offset: Int, greedy: Bool) -> (end: Int?, ranOut: Bool) {
        var recognizer = Recognizer(self, greedy: greedy)
        recognizer.feed(UnsafeBufferPointer(rebasing: input[offset...]))
        switch recognizer.status {
        case .accepted(let length): return (offset + length, false)
        case .rejected: return (nil, false)
        case .needsMore:
            if case .accepted(let length) = recognizer.finish() { return (offset + length, true) }
            return (nil, true)
        }
    }
}

/// Recognises a composite over input that arrives in chunks, keeping what it
/// has read and deciding as soon as the machine can.
public struct CompositeRecognizer: Sendable {
    /// The machine being run.
    public let composite: Composite
    /// Whether each DFA part takes its longest sentence (cpppo's default) or its
    /// first accept.
    public let greedy: Bool
    /// Every byte fed so far: each chunk is matched again from the start, since a
    /// composite cannot resume in the middle of a step.
    public private(set) var buffer: [UInt8] = []
    /// The answer so far; once it is not ``Composite/Outcome/needsMore`` it no
    /// longer changes.
    public private(set) var outcome: Composite.Outcome = .needsMore

    /// Starts a recognizer for `composite` with nothing read.
    public init(_ composite: Composite, greedy: Bool = true) {
        self.composite = composite
        self.greedy = greedy
    }

    /// Reads the next chunk and matches what has arrived, with more input still
    /// possible; once decided, further chunks are ignored.
    @discardableResult
    public mutating func feed(_ chunk: [UInt8]) -> Composite.Outcome {
        guard outcome == .needsMore else { return outcome }
        buffer += chunk
        outcome = composite.match(buffer, complete: false, greedy: greedy)
        return outcome
    }

    /// The input has ended: an undecided machine takes the best sentence it has,
    /// or fails.
    @discardableResult
    public mutating func finish() -> Composite.Outcome {
        if outcome == .needsMore { outcome = composite.match(buffer, complete: true, greedy: greedy) }
        return outcome
    }
}
