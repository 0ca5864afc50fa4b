/// toml++ (under TOMLKit) asserts, aborting the process, on a table header
/// whose key begins with a character no key may begin with (`[!a]`), and on
/// a `}` where an array expects a value (`a = [}]`, `a = [1,}]`): both found
/// by fuzzing the configuration. They are found here first, so that they are
/// a configuration error like any other.
enum TOMLHeaderCheck {
    /// The line of the first such place, and why it is wrong; nil if none.
    static func problem(in text: String) -> (line: Int, reason: String)? {
        var scanner = Scanner(Array(text.unicodeScalars))
        return scanner.run()
    }

    private struct Scanner {
        let characters: [Unicode.Scalar]
        var index = 0
        var line = 1
        /// The brackets and braces of values still open, innermost last (an array may span lines).
        var open: [Unicode.Scalar] = []
        var lineStart = true

        init(_ characters: [Unicode.Scalar]) { self.characters = characters }

        mutating func run() -> (line: Int, reason: String)? {
            while index < characters.count {
                let character = characters[index]
                if character == "\n" { line += 1; lineStart = true; index += 1; continue }
                // toml++ skips a byte-order mark at the start, so the line after it still begins there.
                if character == " " || character == "\t" || character == "\r" || (index == 0 && character == "\u{FEFF}") {
                    index += 1
                    continue
                }
                if lineStart && open.isEmpty && character == "[", let found = headerStart() {
                    return (line, "a table header must begin with a key, not '\(found.escaped(asASCII: false))'")
                }
                if character == "}" && open.last == "[" { return (line, "'}' where the array expects a value or ']'") }
                lineStart = false
                step(character)
            }
            return nil
        }

        /// After `[` or `[[` and blanks: a key's first character, `]` (toml++
        /// refuses that itself), or the end; not a line's end (`[` alone on a line).
        func headerStart() -> Unicode.Scalar? {
            var next = index + 1
            if next < characters.count && characters[next] == "[" { next += 1 }
            while next < characters.count && (characters[next] == " " || characters[next] == "\t") { next += 1 }
            guard next < characters.count else { return nil }
            let found = characters[next]
            let allowed = found.properties.isASCIIHexDigit || ("a"..."z").contains(found) || ("A"..."Z").contains(found)
                || "_-\"']".unicodeScalars.contains(found)
            return allowed ? nil : found
        }

        mutating func step(_ character: Unicode.Scalar) {
            switch character {
            case "#": skip(until: "\n")
            case "[", "{": open.append(character); index += 1
            case "]", "}": _ = open.popLast(); index += 1
            case "\"", "'": skipString(character)
            default: index += 1
            }
        }

        mutating func skip(until end: Unicode.Scalar) {
            while index < characters.count && characters[index] != end { index += 1 }
        }

        /// A basic or literal string, single- or multi-line.
        mutating func skipString(_ quote: Unicode.Scalar) {
            let triple = tripled(quote)
            index += triple ? 3 : 1
            while index < characters.count {
                let character = characters[index]
                if character == "\\" && quote == "\"" { index += 2; continue }
                if character == "\n" {
                    if !triple { return }
                    line += 1
                }
                if character == quote && (!triple || tripled(quote)) { index += triple ? 3 : 1; return }
                index += 1
            }
        }

        /// Three of `quote` from here: a multi-line string opens or closes.
        func tripled(_ quote: Unicode.Scalar) -> Bool {
            index + 2 < characters.count && characters[index + 1] == quote && characters[index + 2] == quote
        }
    }
}
