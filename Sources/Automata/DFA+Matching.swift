extension DFA {
    /// Runs the machine anchored at `from`; returns where the match ends:
    /// the longest accepted prefix when `greedy`, else the first accept.
    @inline(__always)
    func matchEnd<Input: SymbolInput>(_ input: Input, from: Int, greedy: Bool) -> Int? {
        table.withUnsafeBufferPointer { table in
            var state = start
            if state >= firstAccepting && !greedy { return from }
            var last = state >= firstAccepting ? from : -1
            var index = from
            let count = input.count
            while index < count {
                state = table[Int(state &+ input.symbolClass(at: index))]
                index &+= 1
                if state == dead { break }
                if state >= firstAccepting {
                    last = index
                    if !greedy { break }
                }
            }
            return last < 0 ? nil : last
        }
    }

    /// Where the first match of any start ends at the earliest, for a machine
    /// that reads anything before its pattern (Σ*R).
    @inline(__always)
    func earliestEnd<Input: SymbolInput>(_ input: Input, from: Int) -> Int? {
        if dead == start { return nil }
        if start >= firstAccepting { return from }
        return table.withUnsafeBufferPointer { table in
            var state = start
            var index = from
            let count = input.count
            while index < count {
                state = table[Int(state &+ input.symbolClass(at: index))]
                index &+= 1
                if state >= firstAccepting { return index }
            }
            return nil
        }
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

    public func match(_ input: [UInt8], at offset: Int = 0, greedy: Bool = true) -> Int? {
        input.withUnsafeBufferPointer { match($0, at: offset, greedy: greedy) }
    }

    public func match(_ text: String, greedy: Bool = true) -> Int? {
        match(Array(text.utf8), greedy: greedy)
    }

    /// Whether the whole of `input` is a sentence of the machine's language.
    public func accepts(_ input: [UInt8]) -> Bool {
        if alphabet == .unicode && String(validating: input, as: UTF8.self) == nil { return false }
        return match(input) == input.count
    }

    public func accepts(_ text: String) -> Bool { accepts(Array(text.utf8)) }
}
