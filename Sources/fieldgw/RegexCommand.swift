import ArgumentParser
import Automata

struct RegexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "regex",
        abstract: "Compile a regex to its minimal DFA and run it on inputs.",
        discussion: """
            For each INPUT, prints the anchored match at its start (greedy: the longest \
            accepted prefix; first: the first accept), the first match anywhere (search), \
            and whether the whole input is accepted. INPUTs take the escapes \\xHH \\n \\r \\t \\\\. \
            Offsets count bytes.
            """
    )

    @Argument(help: "The regular expression.")
    var pattern: String

    @Argument(help: "Inputs to run the machine on.")
    var inputs: [String] = []

    @Flag(name: .long, help: "Read bytes, not UTF-8 text: each byte is one symbol.")
    var bytes = false

    @Flag(name: .long, help: "Print the minimal machine as a Graphviz digraph and nothing else.")
    var dot = false

    @Option(name: .long, help: "The most states a machine may have.")
    var maxStates = CompileOptions().maxStates

    func run() throws {
        let alphabet: Alphabet = bytes ? .bytes : .unicode
        // RegexError and StateLimitError describe themselves; ArgumentParser prints them as they are.
        let dfa = try DFA(regex: pattern, alphabet: alphabet, options: CompileOptions(maxStates: maxStates))
        if dot {
            print(dfa.dot(), terminator: "")
            return
        }
        print("regex \(pattern)  alphabet \(alphabet.rawValue)  states \(dfa.stateCount) (minimal, dead state included)")
        let searcher = try dfa.searcher(options: CompileOptions(maxStates: maxStates))
        for text in inputs {
            let input = try InputEscapes.bytes(of: text, alphabet: alphabet)
            print(report(dfa: dfa, searcher: searcher, input: input, text: text))
        }
    }

    private func report(dfa: DFA, searcher: Searcher, input: [UInt8], text: String) -> String {
        let unicode = !bytes
        func span(_ end: Int?) -> String {
            end.map { "0..\($0) " + InputEscapes.show(input[0..<$0], unicode: unicode) } ?? "no match"
        }
        let found = searcher.search(input).map { "\($0.lowerBound)..\($0.upperBound) " + InputEscapes.show(input[$0], unicode: unicode) }
            ?? "no match"
        return """
            input \(InputEscapes.show(input[...], unicode: unicode))
              greedy  \(span(dfa.match(input, greedy: true)))
              first   \(span(dfa.match(input, greedy: false)))
              search  \(found)
              whole   \(dfa.accepts(input) ? "accepted (terminal)" : "rejected")
            """
    }
}

/// The escapes an input may use on the command line, and how bytes are shown back.
enum InputEscapes {
    static func bytes(of text: String, alphabet: Alphabet) throws -> [UInt8] {
        var result: [UInt8] = []
        var scalars = text.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            guard scalar == "\\" else {
                result += Array(String(scalar).utf8)
                continue
            }
            switch scalars.next() {
            case "n": result.append(0x0A)
            case "r": result.append(0x0D)
            case "t": result.append(0x09)
            case "\\": result.append(0x5C)
            case "x":
                let digits = String(String.UnicodeScalarView([scalars.next(), scalars.next()].compactMap { $0 }))
                guard digits.count == 2, let value = UInt8(digits, radix: 16) else {
                    throw ValidationError("input \(text): \\x needs two hex digits")
                }
                result.append(value)
            default:
                throw ValidationError("input \(text): unknown escape (use \\xHH \\n \\r \\t \\\\)")
            }
        }
        return result
    }

    /// Bytes as a quoted string: printable ASCII as itself, and with
    /// `unicode` every character of valid UTF-8 but controls (as cpppo prints
    /// text); the rest escaped, byte by byte.
    static func show(_ bytes: ArraySlice<UInt8>, unicode: Bool = false) -> String {
        var text = "'"
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if unicode, let (scalar, length) = character(at: index, in: bytes) {
                text.unicodeScalars.append(scalar)
                index += length
                continue
            }
            text += escaped(bytes[index])
            index += 1
        }
        return text + "'"
    }

    private static func escaped(_ byte: UInt8) -> String {
        switch byte {
        case 0x5C: return "\\\\"
        case 0x27: return "\\'"
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x20...0x7E: return String(UnicodeScalar(byte))
        default: return "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }
    }

    /// The non-ASCII, non-control character whose UTF-8 starts at `index`, and its length; nil when there is none whole there.
    private static func character(at index: Int, in bytes: ArraySlice<UInt8>) -> (UnicodeScalar, Int)? {
        let length = switch bytes[index] {
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 0
        }
        guard length > 0, index + length <= bytes.endIndex,
              let decoded = String(validating: bytes[index..<index + length], as: UTF8.self),
              let scalar = decoded.unicodeScalars.first, decoded.unicodeScalars.count == 1,
              scalar.properties.generalCategory != .control, scalar.properties.generalCategory != .format else { return nil }
        return (scalar, length)
    }
}
