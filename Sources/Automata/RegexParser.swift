/// Parses the regular expression syntax of fieldgw into a `RegexNode`.
///
/// Literals; escapes `\xHH \n \r \t \f \v \\` and escaped metacharacters; `.`;
/// classes `[a-z0-9_]`, negated `[^…]`, `\d \w \s` and their negations `\D \W \S`;
/// groups; alternation `|`; `* + ?`; counted `{n}`, `{n,}`, `{n,m}`.
public struct RegexParser {
    /// The largest count accepted in `{n,m}`; the state limit usually stops far below it.
    public static let maxCount = 65_535

    private let pattern: String
    private let scalars: [Unicode.Scalar]
    private let alphabet: Alphabet
    private var position = 0

    private init(pattern: String, alphabet: Alphabet) {
        self.pattern = pattern
        self.scalars = Array(pattern.unicodeScalars)
        self.alphabet = alphabet
    }

    /// Parses `pattern` for `alphabet`; a fault throws `RegexError` naming its position.
    public static func parse(_ pattern: String, alphabet: Alphabet) throws(RegexError) -> RegexNode {
        var parser = RegexParser(pattern: pattern, alphabet: alphabet)
        let node = try parser.parseChoice()
        if parser.position < parser.scalars.count {
            // parseChoice stops only at the end or at a ')' it did not open.
            throw parser.error("unbalanced ')': no group is open")
        }
        return node
    }

    private func error(_ reason: String, at offset: Int? = nil) -> RegexError {
        RegexError(pattern: pattern, position: offset ?? position, reason: reason)
    }

    private var current: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private mutating func parseChoice() throws(RegexError) -> RegexNode {
        var choices = [try parseSequence()]
        while current == "|" {
            position += 1
            choices.append(try parseSequence())
        }
        return choices.count == 1 ? choices[0] : .choice(choices)
    }

    private mutating func parseSequence() throws(RegexError) -> RegexNode {
        var parts: [RegexNode] = []
        while let scalar = current, scalar != "|", scalar != ")" {
            parts.append(try parseRepetition())
        }
        switch parts.count {
        case 0: return .empty
        case 1: return parts[0]
        default: return .sequence(parts)
        }
    }

    private mutating func parseRepetition() throws(RegexError) -> RegexNode {
        if let scalar = current, "*+?".unicodeScalars.contains(scalar) || isCountStart() {
            throw error("nothing to repeat before '\(scalar)'")
        }
        let atom = try parseAtom()
        guard let (min, max) = try parseQuantifier() else { return atom }
        if let scalar = current, "*+?".unicodeScalars.contains(scalar) || isCountStart() {
            throw error("multiple repeat: '\(scalar)' follows a quantifier")
        }
        return .repetition(atom, min: min, max: max)
    }

    private func isCountStart() -> Bool {
        current == "{" && position + 1 < scalars.count
            && (("0"..."9").contains(scalars[position + 1]) || scalars[position + 1] == ",")
    }

    private mutating func parseQuantifier() throws(RegexError) -> (Int, Int?)? {
        switch current {
        case "*": position += 1; return (0, nil)
        case "+": position += 1; return (1, nil)
        case "?": position += 1; return (0, 1)
        case "{" where isCountStart(): return try parseCount()
        default: return nil
        }
    }

    /// `{n}`, `{n,}` or `{n,m}`; the '{' is at `position`.
    private mutating func parseCount() throws(RegexError) -> (Int, Int?) {
        let start = position
        position += 1
        guard let min = parseNumber() else { throw error("counted repetition needs a number after '{'", at: start) }
        var max: Int? = min
        if current == "," {
            position += 1
            max = parseNumber()
        }
        guard current == "}" else { throw error("counted repetition is missing its '}'", at: start) }
        position += 1
        if min > Self.maxCount || (max ?? 0) > Self.maxCount {
            throw error("count larger than \(Self.maxCount)", at: start)
        }
        if let max, max < min { throw error("counted repetition {\(min),\(max)} has its maximum below its minimum", at: start) }
        return (min, max)
    }

    private mutating func parseNumber() -> Int? {
        var value: Int?
        while let scalar = current, ("0"..."9").contains(scalar) {
            value = min((value ?? 0) * 10 + Int(scalar.value - 48), Int(Int32.max))
            position += 1
        }
        return value
    }

    private mutating func parseAtom() throws(RegexError) -> RegexNode {
        guard let scalar = current else { throw error("unexpected end of pattern") }
        switch scalar {
        case "(":
            let open = position
            position += 1
            let inner = try parseChoice()
            guard current == ")" else { throw error("missing ')': the group opened here is not closed", at: open) }
            position += 1
            return inner
        case "[":
            return .symbols(try parseClass())
        case ".":
            position += 1
            return .any(alphabet)
        case "^", "$":
            throw error("anchors are not supported: match() is anchored at its offset and search() looks anywhere")
        case "\\":
            return try parseEscapeAtom()
        default:
            position += 1
            return literal(scalar)
        }
    }

    /// A literal scalar: itself, or in the byte alphabet its UTF-8 bytes in sequence.
    private func literal(_ scalar: Unicode.Scalar) -> RegexNode {
        if alphabet == .unicode || scalar.isASCII { return .symbols(SymbolSet(scalar.value)) }
        return .literal(Array(String(scalar).utf8).map(UInt32.init))
    }

    private mutating func parseEscapeAtom() throws(RegexError) -> RegexNode {
        switch try parseEscape() {
        case .symbol(let value): return .symbols(SymbolSet(value))
        case .set(let set): return .symbols(set)
        }
    }

    private enum Escape {
        case symbol(UInt32)
        case set(SymbolSet)
    }

    /// An escape; the '\' is at `position`.
    private mutating func parseEscape() throws(RegexError) -> Escape {
        let start = position
        position += 1
        guard let scalar = current else { throw error("pattern ends with a lone '\\'", at: start) }
        position += 1
        switch scalar {
        case "n": return .symbol(0x0A)
        case "r": return .symbol(0x0D)
        case "t": return .symbol(0x09)
        case "f": return .symbol(0x0C)
        case "v": return .symbol(0x0B)
        case "x": return .symbol(try parseHexByte(escapeAt: start))
        case "d": return .set(.digits)
        case "w": return .set(.word)
        case "s": return .set(.space)
        case "D": return .set(SymbolSet.digits.inverted(in: alphabet))
        case "W": return .set(SymbolSet.word.inverted(in: alphabet))
        case "S": return .set(SymbolSet.space.inverted(in: alphabet))
        default:
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                throw error("unknown escape '\\\(scalar)'", at: start)
            }
            if !scalar.isASCII && alphabet == .bytes {
                throw error("escaped non-ASCII '\(scalar)' in a byte pattern: write its bytes as \\xHH", at: start)
            }
            return .symbol(scalar.value)
        }
    }

    private mutating func parseHexByte(escapeAt start: Int) throws(RegexError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<2 {
            guard let scalar = current, let digit = Self.hexValue(scalar) else {
                throw error("\\x needs two hex digits", at: start)
            }
            value = value * 16 + digit
            position += 1
        }
        return value
    }

    private static func hexValue(_ scalar: Unicode.Scalar) -> UInt32? {
        switch scalar {
        case "0"..."9": return scalar.value - 48
        case "a"..."f": return scalar.value - 87
        case "A"..."F": return scalar.value - 55
        default: return nil
        }
    }

    /// A bracketed class; the '[' is at `position`.
    private mutating func parseClass() throws(RegexError) -> SymbolSet {
        let open = position
        position += 1
        let negated = current == "^"
        if negated { position += 1 }
        var set = SymbolSet()
        var empty = true
        while true {
            guard let scalar = current else { throw error("class opened here is missing its ']'", at: open) }
            if scalar == "]" { break }
            set = set.union(try parseClassItem())
            empty = false
        }
        if empty { throw error("empty class '[]': escape a literal ']' as '\\]'", at: open) }
        position += 1
        return negated ? set.inverted(in: alphabet) : set
    }

    private mutating func parseClassItem() throws(RegexError) -> SymbolSet {
        let start = position
        let low = try parseClassSymbol()
        guard case .symbol(let lowValue) = low else {
            if case .set(let set) = low { return set }
            return SymbolSet()
        }
        guard current == "-", position + 1 < scalars.count, scalars[position + 1] != "]" else {
            return SymbolSet(lowValue)
        }
        position += 1
        guard case .symbol(let highValue) = try parseClassSymbol() else {
            throw error("a class range cannot end in a class such as \\d", at: start)
        }
        if highValue < lowValue { throw error("class range is reversed: its end is below its start", at: start) }
        return SymbolSet(ranges: [lowValue...highValue])
    }

    private mutating func parseClassSymbol() throws(RegexError) -> Escape {
        guard let scalar = current else { throw error("unexpected end of pattern in a class") }
        if scalar == "\\" { return try parseEscape() }
        if !scalar.isASCII && alphabet == .bytes {
            throw error("non-ASCII '\(scalar)' in a byte class: write its bytes as \\xHH")
        }
        position += 1
        return .symbol(scalar.value)
    }
}
