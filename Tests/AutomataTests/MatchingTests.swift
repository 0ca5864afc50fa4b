import Testing
@testable import Automata
import TestSupport

@Suite(.ownThreads) struct MatchingTests {
    /// cpppo README §4: 'abbb,ab' through ab+ gives 'abbb' greedy and 'ab' otherwise.
    @Test func cpppoGreedyExample() throws {
        let dfa = try DFA(regex: "ab+")
        #expect(dfa.match("abbb,ab", greedy: true) == 4)
        #expect(dfa.match("abbb,ab", greedy: false) == 2)
    }

    /// cpppo README §4.3: the CSV-like machine accepts the whole sentence greedily.
    @Test func cpppoRegexExample() throws {
        let dfa = try DFA(regex: "(ab+)((, *)(ab+))*")
        #expect(dfa.match("abbb,ab") == 7)
        #expect(dfa.match("abbb,ab", greedy: false) == 2)
        #expect(dfa.accepts("abbb, ab,   abbbb"))
        #expect(!dfa.accepts("abbb,"))
        #expect(dfa.match("abbb,") == 4, "the longest accepted prefix stops before the dangling comma")
        #expect(dfa.match("ba") == nil)
    }

    @Test func matchAtAnOffset() throws {
        let dfa = try DFA(regex: "[0-9]+", alphabet: .bytes)
        let input = Array("id=1234;".utf8)
        #expect(dfa.match(input, at: 3) == 7)
        #expect(dfa.match(input, at: 0) == nil)
        #expect(dfa.match(input, at: 8) == nil)
    }

    @Test func emptyMatches() throws {
        let dfa = try DFA(regex: "a*")
        #expect(dfa.match("bbb") == 0)
        #expect(dfa.match("", greedy: false) == 0)
        #expect(dfa.accepts(""))
    }

    @Test func byteAlphabetReadsEveryByteValue() throws {
        let dfa = try DFA(regex: "\\x01\\x03\\x04.{4}[\\x00-\\xff]{2}", alphabet: .bytes)
        let frame: [UInt8] = [0x01, 0x03, 0x04, 0xFF, 0x00, 0x80, 0x7F, 0xC3, 0x28]
        #expect(dfa.match(frame) == 9)
        #expect(dfa.accepts(frame))
        #expect(!dfa.accepts(Array(frame.dropLast())))
    }

    @Test func unicodeAlphabetDecodesUTF8AndCountsBytes() throws {
        let dfa = try DFA(regex: "[à-ÿ]+€?")
        #expect(dfa.match("éèü€x") == 9)
        #expect(dfa.accepts("ÿ€"))
        #expect(!dfa.accepts("e"))
        let dot = try DFA(regex: "..")
        #expect(dot.accepts("😀é"))
        #expect(!dot.accepts("😀"))
    }

    @Test func invalidUTF8EndsTheInput() throws {
        let dfa = try DFA(regex: "a.*")
        #expect(dfa.match([0x61, 0x62, 0xFF, 0x63]) == 2)
        #expect(!dfa.accepts([0x61, 0xC3]))
    }

    @Test func shorthandAndNegatedClasses() throws {
        let dfa = try DFA(regex: "\\w+\\s*=\\s*\\d+[^;]*")
        #expect(dfa.match("rate = 100 ms;next") == 13)
        #expect(try DFA(regex: "\\D\\W\\S").accepts("a.b"))
        #expect(try !DFA(regex: "\\D\\W\\S").accepts("1.b"))
    }
}

@Suite(.ownThreads) struct SearchTests {
    @Test func findsTheLeftmostMatch() throws {
        let searcher = try DFA(regex: "ab+").searcher()
        #expect(searcher.search("xxabbb,ab") == 2..<6)
        #expect(searcher.search("xxabbb,ab", greedy: false) == 2..<4)
        #expect(searcher.search("nothing here") == nil)
    }

    /// The leftmost match can end after another match's earlier end.
    @Test func leftmostStartBeatsEarliestEnd() throws {
        let searcher = try DFA(regex: "abcd|c").searcher()
        #expect(searcher.search("xabcd") == 1..<5)
        #expect(searcher.search("xabce") == 3..<4)
    }

    @Test func searchFromAnOffset() throws {
        let searcher = try DFA(regex: "[0-9]+", alphabet: .bytes).searcher()
        let input = Array("a1 b22 c333".utf8)
        #expect(searcher.search(input, from: 2) == 4..<6)
        #expect(searcher.matches(input) == [1..<2, 4..<6, 8..<11])
    }

    @Test func emptyMatchesAdvance() throws {
        let searcher = try DFA(regex: "b*").searcher()
        #expect(searcher.search("aab") == 0..<0)
        #expect(searcher.matches(Array("ab".utf8)) == [0..<0, 1..<2, 2..<2])
    }

    @Test func frameInNoise() throws {
        let searcher = try DFA(regex: "\\x01\\x03\\x04.{4}..", alphabet: .bytes).searcher()
        let input: [UInt8] = [0xFF, 0x01, 0x03, 0x01, 0x03, 0x04, 1, 2, 3, 4, 5, 6, 7]
        #expect(searcher.search(input) == 3..<12)
    }

    @Test func unicodeSearchReportsByteOffsets() throws {
        let searcher = try DFA(regex: "é+").searcher()
        #expect(searcher.search("naïve café") == 10..<12)
    }

    @Test func emptyLanguageNeverMatches() throws {
        let searcher = try DFA(regex: "a{0}b{0}x[^\\x00-\\xff]", alphabet: .bytes).searcher()
        #expect(searcher.search(Array("xxxx".utf8)) == nil)
    }

    /// Byte patterns that start with one byte take the memchr path; it agrees with brute force.
    @Test func byteSearchWithAFirstByteAgreesWithBruteForce() throws {
        var random = SplitMix64(seed: 99)
        for pattern in ["\\x01[\\x01\\x02]+\\x03", "\\x01\\x03\\x04.{4}..", "\\x02(\\x02|\\x03\\x01)*", "\\x01|\\x02\\x03"] {
            let dfa = try DFA(regex: pattern, alphabet: .bytes)
            let searcher = try dfa.searcher()
            #expect(searcher.firstByte != nil || pattern.contains("|\\x02"), "\(pattern) should have a first byte")
            for _ in 0..<200 {
                let bytes = (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...4, using: &random) }
                for greedy in [true, false] {
                    let expected = (0...bytes.count).lazy.compactMap { start in dfa.match(bytes, at: start, greedy: greedy).map { start..<$0 } }.first
                    #expect(searcher.search(bytes, greedy: greedy) == expected, "\(pattern) in \(bytes)")
                }
            }
        }
    }

    /// Search agrees with trying an anchored match at every offset, leftmost first.
    @Test func searchAgreesWithBruteForce() throws {
        var random = SplitMix64(seed: 42)
        for _ in 0..<300 {
            let pattern = RandomRegex.make(using: &random)
            let dfa = try DFA(regex: pattern)
            let searcher = try dfa.searcher()
            for _ in 0..<10 {
                let text = (0..<3).map { _ in RandomRegex.input(using: &random) }.joined()
                let bytes = Array(text.utf8)
                for greedy in [true, false] {
                    let starts = text.unicodeScalars.indices.map { text.utf8.distance(from: text.utf8.startIndex, to: $0) } + [bytes.count]
                    let expected = starts.lazy.compactMap { start in dfa.match(bytes, at: start, greedy: greedy).map { start..<$0 } }.first
                    #expect(searcher.search(bytes, greedy: greedy) == expected, "\(pattern) in '\(text)'")
                }
            }
        }
    }
}
