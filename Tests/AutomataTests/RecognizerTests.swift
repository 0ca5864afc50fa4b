import Testing
@testable import Automata
import TestSupport

@Suite(.ownThreads) struct RecognizerTests {
    @Test func greedyWaitsForMoreThenAcceptsTheLongest() throws {
        var recognizer = Recognizer(try DFA(regex: "ab+"))
        #expect(recognizer.feed(Array("a".utf8)) == .needsMore)
        #expect(!recognizer.terminal)
        #expect(recognizer.feed(Array("bb".utf8)) == .needsMore)
        #expect(recognizer.terminal, "cpppo's terminal: stopping here recognises a sentence")
        #expect(recognizer.feed(Array("b,ab".utf8)) == .accepted(length: 4))
        #expect(recognizer.consumed == 5, "it read the ',' that ended the sentence, nothing after")
    }

    @Test func firstAcceptStopsAtOnce() throws {
        var recognizer = Recognizer(try DFA(regex: "ab+"), greedy: false)
        #expect(recognizer.feed(Array("abbb".utf8)) == .accepted(length: 2))
    }

    @Test func finishAcceptsWhatWasTerminal() throws {
        var recognizer = Recognizer(try DFA(regex: "ab+"))
        recognizer.feed(Array("abb".utf8))
        #expect(recognizer.finish() == .accepted(length: 3))
        var short = Recognizer(try DFA(regex: "ab+"))
        short.feed(Array("a".utf8))
        #expect(short.finish() == .rejected(at: 1))
    }

    @Test func rejectsAtTheByteThatCannotBeRead() throws {
        var recognizer = Recognizer(try DFA(regex: "abc"))
        #expect(recognizer.feed(Array("abx".utf8)) == .rejected(at: 2))
    }

    @Test func fixedLengthSentenceIsAcceptedWithoutWaiting() throws {
        var recognizer = Recognizer(try DFA(regex: "\\x01\\x03\\x02..", alphabet: .bytes))
        #expect(recognizer.feed([0x01, 0x03, 0x02, 0x00]) == .needsMore)
        #expect(recognizer.feed([0x2A]) == .accepted(length: 5))
    }

    @Test func resetStartsAgain() throws {
        var recognizer = Recognizer(try DFA(regex: "a"))
        #expect(recognizer.feed(Array("a".utf8)) == .accepted(length: 1))
        recognizer.reset()
        #expect(recognizer.status == .needsMore)
        #expect(recognizer.feed(Array("b".utf8)) == .rejected(at: 0))
    }

    @Test func utf8SplitAcrossChunks() throws {
        var recognizer = Recognizer(try DFA(regex: "é€+"))
        let bytes = Array("é€€".utf8)
        for byte in bytes { #expect(recognizer.feed([byte]) == .needsMore) }
        #expect(recognizer.finish() == .accepted(length: bytes.count))
        var bad = Recognizer(try DFA(regex: ".+"))
        #expect(bad.feed([0x61, 0xE2, 0x82]) == .needsMore)
        #expect(bad.feed([0x41]) == .accepted(length: 1), "a broken sequence ends the sentence")
    }

    /// Any split of the input into chunks gives the answer of the batch matcher.
    @Test func chunkingNeverChangesTheAnswer() throws {
        var random = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let dfa = try DFA(regex: RandomRegex.make(using: &random))
            for _ in 0..<8 {
                let bytes = Array(RandomRegex.input(using: &random).utf8)
                for greedy in [true, false] {
                    var recognizer = Recognizer(dfa, greedy: greedy)
                    var offset = 0
                    while offset < bytes.count && recognizer.status == .needsMore {
                        let size = Int.random(in: 1...3, using: &random)
                        recognizer.feed(Array(bytes[offset..<min(bytes.count, offset + size)]))
                        offset += size
                    }
                    let expected: Recognizer.Status = dfa.match(bytes, greedy: greedy).map { .accepted(length: $0) } ?? .rejected(at: 0)
                    switch (recognizer.finish(), expected) {
                    case (.rejected, .rejected): break
                    case (let got, _): #expect(got == expected, "\(dfa.name) on \(bytes)")
                    }
                }
            }
        }
    }
}
