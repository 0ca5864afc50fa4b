/// A machine described as a composition of sub-machines.
///
/// Regular parts (patterns, and sequences, alternations and repetitions of
/// them) fuse into one minimal DFA when compiled. A part whose extent depends
/// on the input itself, a repetition counted by a value captured earlier (a
/// length byte), cannot be regular; around such parts the machine runs its
/// steps in order: a sequence step by step, an alternation as an ordered
/// choice (the first alternative that matches), a repetition as many times as
/// its part matches, up to its maximum.
public indirect enum Machine: Sendable {
    /// A regular expression, already parsed.
    case pattern(RegexNode)
    /// Each machine in turn, each starting where the last ended.
    case sequence([Machine])
    /// An ordered choice: the first machine that matches.
    case alternation([Machine])
    /// The machine at least `min` times and at most `max` (nil: no limit), as
    /// many times as it matches.
    case repetition(Machine, min: Int, max: Int?)
    /// Records where `machine` matched, under `name`, for a `Count` to read.
    case capture(String, Machine)
    /// `machine` exactly as many times as `count` reads from a capture.
    case counted(Machine, Count)

    /// A machine from a regex of `alphabet`.
    public static func regex(_ pattern: String, alphabet: Alphabet = .bytes) throws(RegexError) -> Machine {
        .pattern(try RegexParser.parse(pattern, alphabet: alphabet))
    }

    /// The single regex this machine is, when it is regular.
    var regularNode: RegexNode? {
        switch self {
        case .pattern(let node): return node
        case .sequence(let parts):
            let nodes = parts.compactMap(\.regularNode)
            return nodes.count == parts.count ? .sequence(nodes) : nil
        case .alternation(let choices):
            let nodes = choices.compactMap(\.regularNode)
            return nodes.count == choices.count ? .choice(nodes) : nil
        case .repetition(let part, let min, let max):
            return part.regularNode.map { .repetition($0, min: min, max: max) }
        case .capture, .counted: return nil
        }
    }

    /// Compiles the machine: regular runs become minimal DFAs.
    public func compile(alphabet: Alphabet = .bytes, options: CompileOptions = .init()) throws(StateLimitError) -> Composite {
        Composite(root: try step(alphabet: alphabet, options: options))
    }

    private func step(alphabet: Alphabet, options: CompileOptions) throws(StateLimitError) -> Composite.Step {
        if let node = regularNode { return .dfa(Composite.Part(try DFA(node: node, alphabet: alphabet, options: options))) }
        switch self {
        case .pattern: preconditionFailure("a pattern is always regular")
        case .sequence(let parts):
            return .sequence(try Self.fusedSteps(parts, alphabet: alphabet, options: options))
        case .alternation(let choices):
            var steps: [Composite.Step] = []
            for choice in choices { steps.append(try choice.step(alphabet: alphabet, options: options)) }
            return .alternation(steps)
        case .repetition(let part, let min, let max):
            return .repetition(try part.step(alphabet: alphabet, options: options), min: min, max: max)
        case .capture(let name, let part):
            return .capture(name, try part.step(alphabet: alphabet, options: options))
        case .counted(let part, let count):
            return .counted(try part.step(alphabet: alphabet, options: options), count)
        }
    }

    /// Steps for a sequence, each run of regular parts fused into one DFA.
    private static func fusedSteps(_ parts: [Machine], alphabet: Alphabet, options: CompileOptions) throws(StateLimitError) -> [Composite.Step] {
        var steps: [Composite.Step] = []
        var run: [RegexNode] = []
        func flush() throws(StateLimitError) {
            guard !run.isEmpty else { return }
            steps.append(.dfa(Composite.Part(try DFA(node: run.count == 1 ? run[0] : .sequence(run), alphabet: alphabet, options: options))))
            run = []
        }
        for part in parts {
            if let node = part.regularNode {
                run.append(node)
            } else {
                try flush()
                steps.append(try part.step(alphabet: alphabet, options: options))
            }
        }
        try flush()
        return steps
    }
}

/// How a counted repetition learns its count: from the bytes of a capture.
public struct Count: Sendable {
    /// The name of the capture whose bytes hold the count; it must have matched
    /// earlier in the sentence.
    public let capture: String
    /// Turns the captured bytes into the count, or nil when they are not one, which
    /// fails the match.
    public let decode: @Sendable ([UInt8]) -> Int?

    /// `.byte`: the matcher reads the byte itself, with no array to build.
    let isOneByte: Bool

    /// A count read from `capture` by `decode`; ``Count/byte(_:)``,
    /// ``Count/bigEndian(_:)``, ``Count/littleEndian(_:)`` and ``Count/decimal(_:)``
    /// cover the usual encodings.
    public init(capture: String, decode: @escaping @Sendable ([UInt8]) -> Int?) {
        self.init(capture: capture, isOneByte: false, decode: decode)
    }

    private init(capture: String, isOneByte: Bool, decode: @escaping @Sendable ([UInt8]) -> Int?) {
        self.capture = capture
        self.isOneByte = isOneByte
        self.decode = decode
    }

    /// The captured byte's value.
    public static func byte(_ capture: String) -> Count {
        Count(capture: capture, isOneByte: true) { $0.count == 1 ? Int($0[0]) : nil }
    }

    /// The captured bytes as an unsigned big-endian number (network order, as Modbus).
    public static func bigEndian(_ capture: String) -> Count {
        Count(capture: capture) { bytes in
            bytes.count <= 4 ? bytes.reduce(0) { $0 << 8 | Int($1) } : nil
        }
    }

    /// The captured bytes as an unsigned little-endian number (as EtherNet/IP).
    public static func littleEndian(_ capture: String) -> Count {
        Count(capture: capture) { bytes in
            bytes.count <= 4 ? bytes.reversed().reduce(0) { $0 << 8 | Int($1) } : nil
        }
    }

    /// The captured ASCII decimal digits.
    public static func decimal(_ capture: String) -> Count {
        Count(capture: capture) { bytes in
            bytes.isEmpty || bytes.count > 9 || !bytes.allSatisfy({ (0x30...0x39).contains($0) }) ? nil
                : bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
    }
}
