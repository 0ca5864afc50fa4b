import Testing
@testable import Automata
import TestSupport

@Suite(.ownThreads) struct ParserTests {
    private func parse(_ pattern: String, _ alphabet: Alphabet = .unicode) throws -> RegexNode {
        try RegexParser.parse(pattern, alphabet: alphabet)
    }

    private func symbol(_ value: UInt32) -> RegexNode { .symbols(SymbolSet(value)) }

    @Test func literalsAndSequence() throws {
        #expect(try parse("ab") == .sequence([symbol(0x61), symbol(0x62)]))
        #expect(try parse("") == .empty)
        #expect(try parse("é") == symbol(0xE9))
    }

    @Test func nonASCIILiteralInByteAlphabetIsItsUTF8Bytes() throws {
        #expect(try parse("é", .bytes) == .sequence([symbol(0xC3), symbol(0xA9)]))
    }

    @Test func escapes() throws {
        #expect(try parse("\\x41") == symbol(0x41))
        #expect(try parse("\\xff", .bytes) == symbol(0xFF))
        #expect(try parse("\\n\\r\\t\\f\\v") == .sequence([0x0A, 0x0D, 0x09, 0x0C, 0x0B].map(symbol)))
        #expect(try parse("\\\\") == symbol(0x5C))
        for meta in ".[]{}()*+?|^$-/" {
            #expect(try parse("\\" + String(meta)) == symbol(meta.unicodeScalars.first!.value))
        }
    }

    @Test func dotIsEverySymbolOfTheAlphabet() throws {
        #expect(try parse(".", .bytes) == .symbols(SymbolSet(ranges: [0...0xFF])))
        #expect(try parse(".") == .symbols(SymbolSet(ranges: [0...0x10FFFF])))
    }

    @Test func classes() throws {
        #expect(try parse("[a-z0-9_]") == .symbols(SymbolSet(ranges: [0x61...0x7A, 0x30...0x39, 0x5F...0x5F])))
        #expect(try parse("[^a]", .bytes) == .symbols(SymbolSet(ranges: [0...0x60, 0x62...0xFF])))
        #expect(try parse("[-a]") == .symbols(SymbolSet(ranges: [0x2D...0x2D, 0x61...0x61])))
        #expect(try parse("[a-]") == .symbols(SymbolSet(ranges: [0x2D...0x2D, 0x61...0x61])))
        #expect(try parse("[\\]\\-]") == .symbols(SymbolSet(ranges: [0x5D...0x5D, 0x2D...0x2D])))
        #expect(try parse("[\\x00-\\x1f]", .bytes) == .symbols(SymbolSet(ranges: [0...0x1F])))
        #expect(try parse("[\\d]") == .symbols(.digits))
        #expect(try parse("[à-ÿ]") == .symbols(SymbolSet(ranges: [0xE0...0xFF])))
    }

    @Test func shorthandClasses() throws {
        #expect(try parse("\\d") == .symbols(.digits))
        #expect(try parse("\\w") == .symbols(.word))
        #expect(try parse("\\s") == .symbols(.space))
        #expect(try parse("\\D", .bytes) == .symbols(SymbolSet.digits.inverted(in: .bytes)))
        #expect(try parse("\\W") == .symbols(SymbolSet.word.inverted(in: .unicode)))
        #expect(try parse("\\S") == .symbols(SymbolSet.space.inverted(in: .unicode)))
    }

    @Test func groupsAndAlternation() throws {
        #expect(try parse("a|b") == .choice([symbol(0x61), symbol(0x62)]))
        #expect(try parse("(a|)c") == .sequence([.choice([symbol(0x61), .empty]), symbol(0x63)]))
        #expect(try parse("()") == .empty)
    }

    @Test func quantifiers() throws {
        let a = symbol(0x61)
        #expect(try parse("a*") == .repetition(a, min: 0, max: nil))
        #expect(try parse("a+") == .repetition(a, min: 1, max: nil))
        #expect(try parse("a?") == .repetition(a, min: 0, max: 1))
        #expect(try parse("a{3}") == .repetition(a, min: 3, max: 3))
        #expect(try parse("a{2,}") == .repetition(a, min: 2, max: nil))
        #expect(try parse("a{2,5}") == .repetition(a, min: 2, max: 5))
        #expect(try parse("(ab)+") == .repetition(.sequence([a, symbol(0x62)]), min: 1, max: nil))
    }

    @Test func bracesThatAreNotCountsAreLiterals() throws {
        #expect(try parse("a{x}") == .sequence([0x61, 0x7B, 0x78, 0x7D].map(symbol)))
        #expect(try parse("]}") == .sequence([0x5D, 0x7D].map(symbol)))
    }

    @Test(arguments: [
        ("a(b", 1, "missing ')'"),
        ("ab)", 2, "unbalanced ')'"),
        ("*a", 0, "nothing to repeat"),
        ("a|+", 2, "nothing to repeat"),
        ("({2})", 1, "nothing to repeat"),
        ("a**", 2, "multiple repeat"),
        ("a{2}{3}", 4, "multiple repeat"),
        ("a{2", 1, "missing its '}'"),
        ("a{,3}", 1, "needs a number"),
        ("a{3,1}", 1, "maximum below its minimum"),
        ("a{70000}", 1, "count larger than"),
        ("[abc", 0, "missing its ']'"),
        ("[]", 0, "empty class"),
        ("[z-a]", 1, "reversed"),
        ("[a-\\d]", 1, "cannot end in a class"),
        ("\\q", 0, "unknown escape"),
        ("\\1", 0, "unknown escape"),
        ("ab\\", 2, "lone '\\'"),
        ("\\x4", 0, "two hex digits"),
        ("\\xZZ", 0, "two hex digits"),
        ("^a", 0, "anchors are not supported"),
        ("a$", 1, "anchors are not supported"),
    ])
    func errorsNameThePositionAndReason(pattern: String, position: Int, reason: String) {
        #expect {
            try RegexParser.parse(pattern, alphabet: .unicode)
        } throws: { error in
            guard let error = error as? RegexError else { return false }
            return error.position == position && error.reason.contains(reason) && "\(error)".contains(pattern)
        }
    }

    @Test func byteAlphabetRefusesNonASCIIInClasses() {
        #expect(throws: RegexError.self) { try RegexParser.parse("[é]", alphabet: .bytes) }
        #expect(throws: RegexError.self) { try RegexParser.parse("\\é", alphabet: .bytes) }
    }

    @Test func errorDescriptionPointsAtThePosition() throws {
        let error = try #require(throws: RegexError.self) { try RegexParser.parse("ab|*c", alphabet: .unicode) }
        #expect(error.description == "bad regex at position 3: nothing to repeat before '*'\n  ab|*c\n     ^")
    }
}
