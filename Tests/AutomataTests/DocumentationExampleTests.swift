import Automata
import Testing
import TestSupport

/// The example on the module's DocC landing page (Automata.docc/Automata.md), as it is shown there.
@Suite(.ownThreads) struct DocumentationExampleTests {
    @Test func theLandingPageExampleSaysWhatItDoes() throws {
        let dfa = try DFA(regex: "ab+")
        #expect(dfa.match("abbb,ab") == 4)

        var recognizer = Recognizer(dfa)
        #expect(recognizer.feed(Array("ab".utf8)) == .needsMore)
        #expect(recognizer.feed(Array("b,".utf8)) == .accepted(length: 3))
    }
}
