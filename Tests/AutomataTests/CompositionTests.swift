import Testing
@testable import Automata
import TestSupport

@Suite(.ownThreads) struct CompositionTests {
    /// A length-prefixed frame: a length byte, then that many bytes, then a terminator.
    private func frame() throws -> Composite {
        try Machine.sequence([
            .regex("\\x7e"),
            .capture("length", .regex(".")),
            .capture("payload", .counted(.regex("."), .byte("length"))),
            .regex("\\x7f"),
        ]).compile()
    }

    @Test func lengthPrefixedFrame() throws {
        let outcome = try frame().match([0x7E, 0x03, 0x7F, 0x00, 0x01, 0x7F, 0x55])
        guard case .matched(let match) = outcome else {
            Issue.record("no match: \(outcome)")
            return
        }
        #expect(match.end == 6)
        #expect(match.captures["payload"] == 2..<5, "the payload may hold the terminator byte")
        #expect(try frame().match([0x7E, 0x03, 0x7F, 0x00, 0x01, 0x00]) == .failed)
        #expect(try frame().match([0x7E, 0x00, 0x7F]) != .failed)
    }

    /// Runs of any byte are skipped rather than run through a table: the same
    /// answers, byte by byte and whole, as when every byte is read.
    @Test func anyByteRunsAreSkippedWithTheSameAnswers() throws {
        #expect(try DFA(regex: "...", alphabet: .bytes).anyLength == 3)
        #expect(try DFA(regex: ".", alphabet: .bytes).anyLength == 1)
        #expect(try DFA(regex: "", alphabet: .bytes).anyLength == 0, "the empty string is every string of no bytes")
        for pattern in ["a.", ".a", ".*", ".{1,2}", "[^a]"] {
            #expect(try DFA(regex: pattern, alphabet: .bytes).anyLength == nil, "\(pattern)")
        }
        #expect(try DFA(regex: "..", alphabet: .unicode).anyLength == nil, "Unicode symbols are not bytes")
        let frame = try frame()
        let whole: [UInt8] = [0x7E, 0x03, 0xAA, 0xBB, 0xCC, 0x7F]
        for cut in 0..<whole.count {
            #expect(frame.match(Array(whole[..<cut]), complete: false) == .needsMore, "cut at \(cut)")
            #expect(frame.match(Array(whole[..<cut]), complete: true) == .failed, "cut at \(cut)")
        }
        #expect(frame.match(whole, complete: false) == .matched(.init(end: 6, captures: ["length": 1..<2, "payload": 2..<5])))
    }

    @Test func streamingDecidesAsSoonAsItCan() throws {
        var recognizer = CompositeRecognizer(try frame())
        #expect(recognizer.feed([0x7E, 0x02]) == .needsMore)
        #expect(recognizer.feed([0xAA]) == .needsMore)
        #expect(recognizer.feed([0xBB]) == .needsMore)
        guard case .matched(let match) = recognizer.feed([0x7F, 0x00]) else {
            Issue.record("not matched")
            return
        }
        #expect(match.end == 5)
        var broken = CompositeRecognizer(try frame())
        #expect(broken.feed([0x7E, 0x01, 0x00, 0x00]) == .failed)
    }

    @Test func regularPartsFuseIntoOneDFA() throws {
        let machine = try Machine.sequence([.regex("ab+"), .alternation([.regex("c"), .regex("d+")]), .repetition(.regex("e"), min: 0, max: 2)])
        let composite = try machine.compile(alphabet: .unicode)
        let fused = try #require(composite.dfa)
        #expect(fused.stateCount == (try DFA(regex: "ab+(c|d+)e{0,2}")).stateCount)
        #expect(composite.match(Array("abbdddee".utf8)) == .matched(.init(end: 8, captures: [:])))
    }

    @Test func countsInOtherEncodings() throws {
        let bigEndian = try Machine.sequence([.capture("n", .regex("..")), .counted(.regex("x"), .bigEndian("n"))]).compile()
        #expect(bigEndian.match([0x00, 0x02, 0x78, 0x78, 0x78]) == .matched(.init(end: 4, captures: ["n": 0..<2])))
        let littleEndian = try Machine.sequence([.capture("n", .regex("..")), .counted(.regex("x"), .littleEndian("n"))]).compile()
        #expect(littleEndian.match([0x01, 0x00, 0x78]) == .matched(.init(end: 3, captures: ["n": 0..<2])))
        let decimal = try Machine.sequence([.capture("n", .regex("[0-9]+")), .regex(":"), .counted(.regex("."), .decimal("n"))]).compile()
        #expect(decimal.match(Array("12:abcdefghijkl!".utf8)) == .matched(.init(end: 15, captures: ["n": 0..<2])))
    }

    @Test func orderedChoiceAndRepetitionAroundCountedParts() throws {
        // A repetition takes all it can (no backtracking into it), so the
        // terminator must be a byte that cannot start a record.
        let record = try Machine.sequence([.capture("n", .regex("[\\x01-\\xff]")), .counted(.regex("."), .byte("n"))])
        let composite = try Machine.sequence([.repetition(record, min: 1, max: nil), .regex("\\x00")]).compile()
        #expect(composite.match([0x02, 0x41, 0x42, 0x01, 0x43, 0x00]) != .failed)
        #expect(composite.match([0x02, 0x41, 0x42, 0x01, 0x43, 0x00], complete: true).end == 6)
        let choice = try Machine.alternation([.sequence([.regex("L"), record]), .regex("S.")]).compile()
        #expect(choice.match(Array("Sx".utf8)).end == 2)
        #expect(choice.match([0x4C, 0x01, 0x41]).end == 3)
        #expect(choice.match([0x4C, 0x02, 0x41], complete: false) == .needsMore)
        #expect(choice.match([0x4C, 0x02, 0x41], complete: true) == .failed)
    }

    @Test func missingCaptureFails() throws {
        let composite = try Machine.counted(.regex("."), .byte("nowhere")).compile()
        #expect(composite.match([1, 2, 3]) == .failed)
    }
}

extension Composite.Outcome {
    var end: Int? {
        if case .matched(let match) = self { return match.end }
        return nil
    }
}
