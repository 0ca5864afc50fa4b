/// The parsed form of a regular expression, before it becomes a machine.
public indirect enum RegexNode: Sendable, Hashable {
    /// Matches the empty string.
    case empty
    /// Matches one symbol of the set.
    case symbols(SymbolSet)
    /// Matches each part in turn.
    case sequence([RegexNode])
    /// Matches any one of the choices.
    case choice([RegexNode])
    /// Matches `node` at least `min` and at most `max` times (`nil`: no limit).
    case repetition(RegexNode, min: Int, max: Int?)

    /// Matches one symbol, any at all.
    public static func any(_ alphabet: Alphabet) -> RegexNode { .symbols(.all(alphabet)) }

    /// Matches exactly this sequence of symbols.
    public static func literal<S: Sequence>(_ symbols: S) -> RegexNode where S.Element == UInt32 {
        .sequence(symbols.map { .symbols(SymbolSet($0)) })
    }

    /// Every symbol set the node mentions, each once.
    var symbolSets: Set<SymbolSet> {
        var sets = Set<SymbolSet>()
        collectSets(into: &sets)
        return sets
    }

    private func collectSets(into sets: inout Set<SymbolSet>) {
        switch self {
        case .empty: break
        case .symbols(let set): sets.insert(set)
        case .sequence(let parts), .choice(let parts): parts.forEach { $0.collectSets(into: &sets) }
        case .repetition(let node, _, _): node.collectSets(into: &sets)
        }
    }
}
