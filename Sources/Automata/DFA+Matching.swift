#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DFA {
    /// Runs the machine anchored at `from`; returns where the match ends:
    /// the longest accepted prefix when `greedy`, else the first accept.
    @inline(__always)
    func matchEnd<Input: SymbolInput>(_ input: Input, from: Int, greedy: Bool) -> Int? {
        if start >= firstAccepting && !greedy { return from }
        return greedy ? longestEnd(input, from: from) : firstEnd(input, from: from)
    }

    /// The longest accepted prefix. The hot loop keeps the last accepting
    /// position without a branch, since acceptance flips unpredictably.
    @inline(__always)
    func longestEnd<Input: SymbolInput>(_ input: Input, from: Int) -> Int? {
        var (state, index, last) = (start, from, start >= firstAccepting ? from : -1)
        if let pairs { (state, index, last) = pairSteps(pairs, input, state: state, from: from, last: last, stopAtAccept: false) }
        table.withUnsafeBufferPointer { table in
            let count = input.count
            while index < count {
                state = table[Int(state &+ input.symbolClass(at: index))]
                index &+= 1
                if state == dead { break }
                last = state >= firstAccepting ? index : last
            }
        }
        return last < 0 ? nil : last
    }

    /// Runs two symbols a step while it can; stops before a pair that kills the
    /// machine (or, with `stopAtAccept`, once it accepts) so that single steps
    /// can finish exactly. Returns the state, the position and the last accept.
    @inline(__always)
    func pairSteps<Input: SymbolInput>(
        _ pairs: PairTable, _ input: Input, state: Int32, from: Int, last: Int, stopAtAccept: Bool
    ) -> (Int32, Int, Int) {
        pairs.next.withUnsafeBufferPointer { next in
            pairs.middleAccepts.withUnsafeBufferPointer { middle in
                let stride = pairs.stride
                let acceptAt = firstAccepting &* stride
                var current = state &* stride
                var index = from
                var last = last
                let end = input.count &- 1
                while index < end {
                    let slot = Int(current &+ input.symbolClass(at: index) &* stride &+ input.symbolClass(at: index &+ 1))
                    let after = next[slot]
                    if after == dead || (stopAtAccept && (middle[slot] || after >= acceptAt)) { break }
                    last = middle[slot] ? index &+ 1 : last
                    index &+= 2
                    current = after
                    last = current >= acceptAt ? index : last
                }
                return (current / stride, index, last)
            }
        }
    }

    @inline(__always)
    func firstEnd<Input: SymbolInput>(_ input: Input, from: Int) -> Int? {
        table.withUnsafeBufferPointer { table in
            var state = start
            var index = from
            let count = input.count
            while index < count {
                state = table[Int(state &+ input.symbolClass(at: index))]
                index &+= 1
                if state == dead { return nil }
                if state >= firstAccepting { return index }
            }
            return nil
        }
    }

    /// Where the first match of any start ends at the earliest, for a machine
    /// that reads anything before its pattern (Σ*R).
    @inline(__always)
    func earliestEnd<Input: SymbolInput>(_ input: Input, from: Int) -> Int? {
        if dead == start { return nil }
        if start >= firstAccepting { return from }
        var (state, index) = (start, from)
        if let pairs { (state, index, _) = pairSteps(pairs, input, state: state, from: from, last: -1, stopAtAccept: true) }
        return table.withUnsafeBufferPointer { table in
            let count = input.count
            while index < count {
                state = table[Int(state &+ input.symbolClass(at: index))]
                index &+= 1
                if state >= firstAccepting { return index }
            }
            return nil
        }
    }

    /// `earliestEnd` for a machine whose start state leaves only on `first`:
    /// memchr skips to each candidate, as a C regex library's literal prefilter does.
    func earliestEnd(_ input: ByteInput, from: Int, skippingTo first: UInt8) -> Int? {
        if start >= firstAccepting { return from }
        guard let base = input.bytes.baseAddress else { return nil }
        var state = start
        var index = from
        let count = input.count
        while index < count {
            if state == start {
                guard let hit = memchr(base + index, Int32(first), count - index) else { return nil }
                index = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
            }
            state = step(state, input.symbolClass(at: index))
            index += 1
            if state >= firstAccepting { return index }
        }
        return nil
    }

    /// The single byte that leads out of the start state, if there is exactly one.
    func onlyExitByte() -> UInt8? {
        let exits = (0..<classCount).filter { table[Int(start) + $0] != start }
        guard exits.count == 1, classes.ranges[exits[0]].count == 1, classes.ranges[exits[0]][0].count == 1 else { return nil }
        return UInt8(exactly: classes.ranges[exits[0]][0].lowerBound)
    }

    /// Every count of symbols (from 0) after which the machine accepts, reading
    /// `input` until the machine dies; smallest last.
    func acceptedLengths<Input: SymbolInput>(_ input: Input, limit: Int) -> [Int] {
        var state = start
        var lengths = state >= firstAccepting ? [0] : []
        var index = 0
        while index < limit {
            state = step(state, input.symbolClass(at: index))
            index += 1
            if state == dead { break }
            if state >= firstAccepting { lengths.append(index) }
        }
        return lengths
    }
}

extension DFA {
    /// The end of the anchored match at byte `offset` of `input`, or nil.
    ///
    /// `greedy` takes the longest accepted prefix (cpppo's default); otherwise
    /// the machine stops at its first accepting state. Offsets count bytes
    /// in both alphabets; Unicode input is UTF-8 and is decoded, stopping at
    /// the first invalid sequence.
    public func match(_ input: UnsafeBufferPointer<UInt8>, at offset: Int = 0, greedy: Bool = true) -> Int? {
        precondition(offset >= 0 && offset <= input.count, "offset outside the input")
        switch alphabet {
        case .bytes:
            return classes.byteClass.withUnsafeBufferPointer { classOf in
                matchEnd(ByteInput(bytes: input, classOf: classOf), from: offset, greedy: greedy)
            }
        case .unicode:
            let text = DecodedText(input, from: offset, classes: classes)
            let end = text.classes.withUnsafeBufferPointer { matchEnd(ClassInput(classes: $0), from: 0, greedy: greedy) }
            return end.map { text.offsets[$0] }
        }
    }

    /// The end of the anchored match at byte `offset` of `input`, or nil; the
    /// same as the buffer form.
    public func match(_ input: [UInt8], at offset: Int = 0, greedy: Bool = true) -> Int? {
        input.withUnsafeBufferPointer { match($0, at: offset, greedy: greedy) }
    }

    /// The end of the anchored match at the start of `text`, in UTF-8 bytes, or nil.
    public func match(_ text: String, greedy: Bool = true) -> Int? {
        match(Array(text.utf8), greedy: greedy)
    }

    /// Whether the whole of `input` is a sentence of the machine's language.
    public func accepts(_ input: [UInt8]) -> Bool {
        if alphabet == .unicode && String(validating: input, as: UTF8.self) == nil { return false }
        return match(input) == input.count
    }

    /// Whether the whole of `text` is a sentence of the machine's language.
    public func accepts(_ text: String) -> Bool { accepts(Array(text.utf8)) }
}
