import Foundation
import TestSupport
import Testing
@testable import Automata

@Suite(.ownThreads) struct DotTests {
    @Test func drawsTheCpppoMachine() throws {
        let dot = try DFA(regex: "(ab+)((, *)(ab+))*").dot()
        #expect(dot.contains("start -> 0;"))
        #expect(dot.contains("0 -> 1 [label=\"a\"];"))
        #expect(dot.contains("2 [shape=doublecircle];"))
        #expect(dot.contains("3 -> 3 [label=\"␠\"];"))
        #expect(!dot.contains("shape=doublecircle];\n  0 "), "the dead state is not drawn")
    }

    @Test func labelsPickTheShorterClassForm() throws {
        #expect(DFA.label(for: SymbolSet(ranges: [0...0x60, 0x62...0xFF]), alphabet: .bytes) == "[^a]")
        #expect(DFA.label(for: SymbolSet(ranges: [0x30...0x39]), alphabet: .bytes) == "[0-9]")
        #expect(DFA.label(for: .all(.unicode), alphabet: .unicode) == ".")
        #expect(DFA.label(for: SymbolSet(0x01), alphabet: .bytes) == "\\x01")
        #expect(DFA.label(for: SymbolSet(0x5B), alphabet: .bytes) == "\\[")
    }

    /// Graphviz itself reads our output, for the patterns of the benchmark suite
    /// whose machines a person would draw (up to 50 states: dot took 40 s to
    /// 60 s of a CPU to lay out `(a|b)*a(a|b){6}`'s 64 states and 257 edges). A wait of a
    /// minute on the cooperative pool, before `.ownThreads`, held up every other test for 100 s.
    @Test func graphvizAcceptsTheOutput() async throws {
        let dot = try Peers.program("dot")
        let patterns = try String(contentsOf: Peers.packageRoot.appendingPathComponent("Benchmarks/regex-suite.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        var drawn = 0
        for pattern in patterns {
            let machine = try DFA(regex: pattern)
            guard machine.stateCount <= 50 else { continue }
            let output = try await offPool { try Peers.run(dot, ["-Tsvg"], input: Data(machine.dot().utf8)) }
            #expect(output.status == 0, "dot refused the drawing of \(pattern): \(output.stderr)")
            #expect(String(decoding: output.stdout, as: UTF8.self).contains("<svg"))
            drawn += 1
        }
        #expect(drawn >= patterns.count / 2, "most of the suite is drawn: \(drawn) of \(patterns.count)")
    }
}

@Suite(.ownThreads) struct RegexCommandTests {
    private func fieldgw(_ arguments: [String]) throws -> Peers.Output {
        try Peers.run(Peers.fieldgw(), arguments)
    }

    @Test func reportsMatchSearchAndWhole() throws {
        let output = try fieldgw(["regex", "ab+", "abbb,ab", "x ab"])
        let text = String(decoding: output.stdout, as: UTF8.self)
        #expect(output.status == 0)
        #expect(text.contains("states 4"))
        #expect(text.contains("greedy  0..4 'abbb'"))
        #expect(text.contains("first   0..2 'ab'"))
        #expect(text.contains("search  2..4 'ab'"))
        #expect(text.contains("whole   rejected"))
    }

    @Test func bytesAndEscapes() throws {
        let output = try fieldgw(["regex", "--bytes", "\\x01\\x03.", "\\xff\\x01\\x03\\x80"])
        let text = String(decoding: output.stdout, as: UTF8.self)
        #expect(text.contains("search  1..4 '\\x01\\x03\\x80'"))
    }

    /// Text prints as characters (cpppo's README runs its regexes on π and
    /// friends); controls, and bytes that are not whole UTF-8, stay escaped.
    @Test func unicodeInputsPrintAsCharacters() throws {
        let output = try fieldgw(["regex", "π+", "xππ\\t", "\\xcf"])
        let text = String(decoding: output.stdout, as: UTF8.self)
        #expect(text.contains("input 'xππ\\t'") && text.contains("search  1..5 'ππ'"), "\(text)")
        #expect(text.contains("input '\\xcf'"), "half a character is a byte: \(text)")
    }

    @Test func dotOutput() throws {
        let output = try fieldgw(["regex", "--dot", "ab+"])
        #expect(String(decoding: output.stdout, as: UTF8.self).hasPrefix("digraph \"ab+\" {"))
    }

    @Test func badRegexNamesPositionAndReason() throws {
        let output = try fieldgw(["regex", "a(b"])
        #expect(output.status != 0)
        #expect(output.stderr.contains("bad regex at position 1: missing ')'"))
    }

    @Test func stateLimitIsReported() throws {
        let output = try fieldgw(["regex", "--max-states", "100", "(a|b)*a(a|b){10}"])
        #expect(output.status != 0)
        #expect(output.stderr.contains("more than 100 states"))
    }
}
