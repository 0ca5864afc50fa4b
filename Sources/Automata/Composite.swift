/// A compiled `Machine`: minimal DFAs joined by the steps that need the input itself.
public struct Composite: Sendable {
    indirect enum Step: Sendable {
        case dfa(DFA)
        case sequence([Step])
        case alternation([Step])
        case repetition(Step, min: Int, max: Int?)
        case capture(String, Step)
        case counted(Step, Count)
    }

    /// A recognised sentence: where it ends, and where each capture matched.
    public struct Match: Sendable, Hashable {
        public let end: Int
        public let captures: [String: Range<Int>]
    }

    public enum Outcome: Sendable, Hashable {
        case matched(Match)
        /// The input cannot start a sentence here.
        case failed
        /// The input ends before the machine can decide.
        case needsMore
    }

    let root: Step

    /// When the whole machine is one DFA, that DFA.
    public var dfa: DFA? {
        if case .dfa(let dfa) = root { return dfa }
        return nil
    }

    /// Recognises a sentence at `offset`. With `complete: false` more input may
    /// follow, so an undecided machine answers `needsMore`; with `true` it takes
    /// the best it has. `greedy` applies to each DFA part.
    public func match(_ input: [UInt8], at offset: Int = 0, complete: Bool = true, greedy: Bool = true) -> Outcome {
        input.withUnsafeBufferPointer { buffer in
            let run = Run(input: buffer, complete: complete, greedy: greedy)
            var captures: [String: Range<Int>] = [:]
            switch run.match(root, at: offset, captures: &captures) {
            case .matched(let end): return .matched(Match(end: end, captures: captures))
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

    func match(_ step: Composite.Step, at offset: Int, captures: inout [String: Range<Int>]) -> Result {
        switch step {
        case .dfa(let dfa):
            return matchDFA(dfa, at: offset)
        case .sequence(let steps):
            var position = offset
            for part in steps {
                let result = match(part, at: position, captures: &captures)
                guard case .matched(let end) = result else { return result }
                position = end
            }
            return .matched(position)
        case .alternation(let choices):
            for choice in choices {
                var attempt = captures
                let result = match(choice, at: offset, captures: &attempt)
                if case .failed = result { continue }
                captures = attempt
                return result
            }
            return .failed
        case .repetition(let part, let min, let max):
            return repeatPart(part, at: offset, min: min, max: max, captures: &captures)
        case .capture(let name, let part):
            let result = match(part, at: offset, captures: &captures)
            if case .matched(let end) = result { captures[name] = offset..<end }
            return result
        case .counted(let part, let count):
            guard let range = captures[count.capture], let times = count.decode(Array(input[range])) else { return .failed }
            return repeatPart(part, at: offset, min: times, max: times, captures: &captures)
        }
    }

    private func repeatPart(_ part: Composite.Step, at offset: Int, min: Int, max: Int?, captures: inout [String: Range<Int>]) -> Result {
        var position = offset
        var times = 0
        while max.map({ times < $0 }) ?? true {
            var attempt = captures
            switch match(part, at: position, captures: &attempt) {
            case .needsMore: return .needsMore
            case .failed: return times >= min ? .matched(position) : .failed
            case .matched(let end):
                captures = attempt
                times += 1
                // An empty match would repeat for ever; it satisfies any remaining count.
                if end == position { return .matched(position) }
                position = end
            }
        }
        return .matched(position)
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
    public let composite: Composite
    public let greedy: Bool
    public private(set) var buffer: [UInt8] = []
    public private(set) var outcome: Composite.Outcome = .needsMore

    public init(_ composite: Composite, greedy: Bool = true) {
        self.composite = composite
        self.greedy = greedy
    }

    @discardableResult
    public mutating func feed(_ chunk: [UInt8]) -> Composite.Outcome {
        guard outcome == .needsMore else { return outcome }
        buffer += chunk
        outcome = composite.match(buffer, complete: false, greedy: greedy)
        return outcome
    }

    @discardableResult
    public mutating func finish() -> Composite.Outcome {
        if outcome == .needsMore { outcome = composite.match(buffer, complete: true, greedy: greedy) }
        return outcome
    }
}
