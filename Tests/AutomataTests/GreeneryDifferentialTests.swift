import Foundation
import TestSupport
import Testing
@testable import Automata

/// Random regexes and inputs, answered by greenery and by us: the same
/// acceptance and the same number of states in the minimal machine.
@Suite(.ownThreads) struct GreeneryDifferentialTests {
    struct Case: Codable {
        let regex: String
        let inputs: [String]
        /// Seconds greenery may take; nil: the oracle's 2 s.
        var limit: Int? = nil
    }

    struct Answer: Codable {
        let states: Int?
        let accepts: [Bool]?
        let error: String?
        let timeout: Bool?
    }

    @Test func randomRegexesAgreeWithGreenery() async throws {
        var random = SplitMix64(seed: 0x5EED_2026)
        let cases = (0..<300).map { _ in
            Case(regex: RandomRegex.make(using: &random), inputs: (0..<24).map { _ in RandomRegex.input(using: &random) })
        }
        let answers = try await ask(cases)
        try #require(answers.count == cases.count)
        var compared = 0
        var slow: [String] = []
        for (item, answer) in zip(cases, answers) {
            if answer.timeout == true {
                slow.append(item.regex)
                continue
            }
            guard let states = answer.states, let accepts = answer.accepts else {
                Issue.record("greenery refused \(item.regex): \(answer.error ?? "?")")
                continue
            }
            let dfa = try DFA(regex: item.regex, alphabet: .unicode)
            #expect(dfa.stateCount == states, "state count of \(item.regex)")
            for (input, expected) in zip(item.inputs, accepts) {
                #expect(dfa.accepts(input) == expected, "\(item.regex) on '\(input)'")
            }
            compared += 1
        }
        // greenery is exponential on a few patterns; those it cannot answer in
        // time are left out, and must stay few.
        #expect(compared + slow.count == cases.count)
        #expect(slow.count <= cases.count / 20, "greenery timed out on \(slow)")
        print("greenery differential: \(compared) regexes compared, \(slow.count) beyond greenery's time limit: \(slow)")
    }

    @Test func knownPatternsAgreeWithGreenery() async throws {
        let patterns = try String(contentsOf: Peers.packageRoot.appendingPathComponent("Benchmarks/regex-suite.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let inputs = ["", "ab", "abbb, ab", "2026-11-22T23:44:39.5", "127.0.0.1", "GET /a HTTP/1.1", "\"a\\\"b\"", "0x1F"]
        // Each is known to finish (in 1 s here), but a loaded machine may take several times that.
        let answers = try await ask(patterns.map { Case(regex: $0, inputs: inputs, limit: 60) })
        for (pattern, answer) in zip(patterns, answers) {
            let dfa = try DFA(regex: pattern, alphabet: .unicode)
            #expect(dfa.stateCount == answer.states, "state count of \(pattern): \(answer.error ?? "")")
            #expect(inputs.map(dfa.accepts) == answer.accepts, "acceptance by \(pattern)")
        }
    }

    /// greenery's answers; waited for off the concurrency pool (greenery takes a minute on a loaded machine).
    private func ask(_ cases: [Case]) async throws -> [Answer] {
        let script = Peers.packageRoot.appendingPathComponent("Tests/AutomataTests/Oracle/greenery_oracle.py").path
        let input = try JSONEncoder().encode(cases)
        let output = try await offPool { try Peers.run(try Peers.python(), [script], input: input) }
        try #require(output.status == 0, "greenery oracle failed: \(output.stderr)")
        return try JSONDecoder().decode([Answer].self, from: output.stdout)
    }
}

/// Small random regexes in the syntax greenery and fieldgw share.
enum RandomRegex {
    static func make(using random: inout SplitMix64, depth: Int = 0) -> String {
        let branches = (0..<Int.random(in: 1...(depth == 0 ? 3 : 2), using: &random)).map { _ in
            (0..<Int.random(in: 1...3, using: &random)).map { _ in item(using: &random, depth: depth) }.joined()
        }
        return branches.joined(separator: "|")
    }

    private static func item(using random: inout SplitMix64, depth: Int) -> String {
        let atom = atom(using: &random, depth: depth)
        // Counted repetitions of groups make greenery's construction explode; keep them to symbols.
        let quantifier = quantifier(using: &random)
        return atom.hasPrefix("(") && quantifier.hasPrefix("{") ? atom + "?" : atom + quantifier
    }

    private static func atom(using random: inout SplitMix64, depth: Int) -> String {
        let atoms = ["a", "b", "c", "a", "b", ".", "[ab]", "[^a]", "[a-c]", "[b-d]", "\\d", "\\w", "\\x61", "\\.", "é"]
        if depth < 1 && Int.random(in: 0..<4, using: &random) == 0 {
            return "(" + make(using: &random, depth: depth + 1) + ")"
        }
        return atoms.randomElement(using: &random)!
    }

    private static func quantifier(using random: inout SplitMix64) -> String {
        let quantifiers = ["", "", "", "", "", "", "*", "+", "?", "{2}", "{1,}", "{0,2}", "{1,3}", "{2,}"]
        return quantifiers.randomElement(using: &random)!
    }

    static func input(using random: inout SplitMix64) -> String {
        let symbols: [Character] = ["a", "b", "c", "d", "a", "b", "1", ".", "é"]
        return String((0..<Int.random(in: 0...8, using: &random)).map { _ in symbols.randomElement(using: &random)! })
    }
}
