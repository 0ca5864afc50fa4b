extension DFA {
    /// The machine as a Graphviz digraph: states as circles (accepting ones
    /// doubled), edges labelled with the symbols that take them, and the dead
    /// state left out, as cpppo's README draws its machines.
    public func dot() -> String {
        var lines = ["digraph \"\(Self.quoted(name))\" {", "  rankdir=LR;", "  node [shape=circle];", "  start [shape=point];"]
        let width = classCount
        let order = displayOrder()
        var shown = [Int](repeating: 0, count: stateCount)
        for (number, state) in order.enumerated() { shown[state] = number }
        lines.append("  start -> 0;")
        for state in order {
            if Int32(state * width) >= firstAccepting { lines.append("  \(shown[state]) [shape=doublecircle];") }
            var byTarget: [Int: [ClosedRange<UInt32>]] = [:]
            for symbolClass in 0..<width {
                let target = table[state * width + symbolClass]
                if target != dead { byTarget[shown[Int(target) / width], default: []] += classes.ranges[symbolClass] }
            }
            for target in byTarget.keys.sorted() {
                let label = Self.label(for: SymbolSet(ranges: byTarget[target]!), alphabet: alphabet)
                lines.append("  \(shown[state]) -> \(target) [label=\"\(Self.quoted(label))\"];")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Live states in breadth-first order from the start, so that a drawing reads from 0.
    private func displayOrder() -> [Int] {
        var order = [Int(start) / classCount]
        var seen = Set(order)
        var next = 0
        while next < order.count {
            let state = order[next]
            next += 1
            for symbolClass in 0..<classCount {
                let target = Int(table[state * classCount + symbolClass]) / classCount
                if Int32(target * classCount) != dead && seen.insert(target).inserted { order.append(target) }
            }
        }
        return order.filter { Int32($0 * classCount) != dead }
    }

    /// A class in regex syntax: a single symbol, `.`, or `[…]` / `[^…]`, whichever is shorter.
    static func label(for set: SymbolSet, alphabet: Alphabet) -> String {
        if set == .all(alphabet) { return "." }
        if set.ranges.count == 1, set.ranges[0].count == 1 { return symbolText(set.ranges[0].lowerBound) }
        let plain = "[" + rangesText(set.ranges) + "]"
        let negated = "[^" + rangesText(set.inverted(in: alphabet).ranges) + "]"
        return negated.count < plain.count ? negated : plain
    }

    private static func rangesText(_ ranges: [ClosedRange<UInt32>]) -> String {
        ranges.map { range in
            switch range.count {
            case 1: return symbolText(range.lowerBound)
            case 2: return symbolText(range.lowerBound) + symbolText(range.upperBound)
            default: return symbolText(range.lowerBound) + "-" + symbolText(range.upperBound)
            }
        }.joined()
    }

    /// A symbol as regex text: printable ASCII as itself (metacharacters escaped), space as ␠
    /// so a drawing shows it, others as escapes.
    static func symbolText(_ value: UInt32) -> String {
        switch value {
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x20: return "\u{2420}"
        case 0x21...0x7E:
            let character = String(UnicodeScalar(UInt8(value)))
            return "\\.[]{}()*+?|^$-".contains(character) ? "\\" + character : character
        case 0...0xFF: return "\\x" + hex(value, digits: 2)
        default:
            if let scalar = Unicode.Scalar(value), scalar.properties.generalCategory != .control,
               !scalar.properties.isWhitespace, scalar.properties.generalCategory != .surrogate {
                return String(scalar)
            }
            return "\\u{" + hex(value, digits: 4) + "}"
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    private static func quoted(_ text: String) -> String {
        var result = ""
        for character in text {
            if character == "\\" || character == "\"" { result.append("\\") }
            result.append(character)
        }
        return result
    }
}
