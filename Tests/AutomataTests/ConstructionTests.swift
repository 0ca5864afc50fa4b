import Testing
@testable import Automata
import TestSupport

@Suite(.ownThreads) struct ConstructionTests {
    /// Minimal state counts, dead state included, as greenery 4.2.3 reports them.
    @Test(arguments: [
        ("ab+", 4), ("a", 3), ("a*", 2), (".*", 1), ("(ab+)((, *)(ab+))*", 5), ("[^a]", 3),
        ("a|b", 3), ("abc|abd", 5), ("a{2,3}", 5), ("\\d+", 3), ("[a-c]x", 4), (".", 3), ("", 2),
        ("a{0}", 2), ("(a|)", 3), ("a{2,}", 4), ("a{3}", 5),
    ])
    func minimalStateCounts(pattern: String, states: Int) throws {
        #expect(try DFA(regex: pattern).stateCount == states)
        #expect(try DFA(regex: pattern, alphabet: .bytes).stateCount == states)
    }

    @Test func equivalentPatternsMinimiseToTheSameSize() throws {
        #expect(try DFA(regex: "(a|b)*").stateCount == DFA(regex: "[ab]*").stateCount)
        #expect(try DFA(regex: "a(ba)*").stateCount == DFA(regex: "(ab)*a").stateCount)
        #expect(try DFA(regex: "aa*|a").stateCount == DFA(regex: "a+").stateCount)
    }

    @Test func stateLimitGivesAClearError() {
        // The n-th symbol from the end is an 'a': 2^n states, famously.
        let error = #expect(throws: StateLimitError.self) {
            try DFA(regex: "(a|b)*a(a|b){14}", options: CompileOptions(maxStates: 1000))
        }
        #expect(error?.limit == 1000)
        #expect("\(String(describing: error))".contains("raise the limit"))
    }

    @Test func nfaLimitStopsHugeCounts() {
        #expect(throws: StateLimitError.self) {
            try DFA(regex: "(abc){60000}", options: CompileOptions(maxStates: 1_000_000, maxNFAStates: 10_000))
        }
    }

    @Test func theSameLimitAppliesToSearchMachines() throws {
        let dfa = try DFA(regex: "a(a|b){12}")
        #expect(dfa.stateCount < 100)
        #expect(throws: StateLimitError.self) { try dfa.searcher(options: CompileOptions(maxStates: 1000)) }
    }

    @Test func deadStateIsZeroAndAcceptingStatesComeLast() throws {
        let dfa = try DFA(regex: "ab+")
        #expect(dfa.dead == 0)
        #expect(!dfa.accepts(state: dfa.start))
        #expect(dfa.step(dfa.start, dfa.classes.classOf(scalar: 0x62)) == dfa.dead)
    }

    @Test func symbolClassesMergeSymbolsTreatedAlike() throws {
        let classes = SymbolClasses(alphabet: .bytes, sets: [SymbolSet(ranges: [0x61...0x61, 0x63...0x63])])
        #expect(classes.count == 2)
        #expect(classes.byteClass[0x61] == classes.byteClass[0x63])
        #expect(classes.byteClass[0x62] != classes.byteClass[0x61])
        let unicode = SymbolClasses(alphabet: .unicode, sets: [SymbolSet(ranges: [0xE9...0xE9, 0x1F600...0x1F600])])
        #expect(unicode.classOf(scalar: 0xE9) == unicode.classOf(scalar: 0x1F600))
        #expect(unicode.classOf(scalar: 0xEA) == unicode.classOf(scalar: 0x41))
    }
}
