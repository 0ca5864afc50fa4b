// The Swift side of Benchmarks/automata_bench.py: times our engine and
// prints one JSON object per measurement for the driver to set beside its peers'.
import Automata
import Foundation

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func report(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// Compiles every regex of the suite `rounds` times; reports each round's time.
func compileBench(suite: String, rounds: Int) throws {
    let patterns = try String(contentsOfFile: suite, encoding: .utf8).split(separator: "\n").map(String.init)
    var times: [Double] = []
    var states = 0
    for _ in 0..<rounds {
        var total = 0
        times.append(try seconds {
            for pattern in patterns { total += try DFA(regex: pattern, alphabet: .unicode).stateCount }
        })
        states = total
    }
    report(["bench": "compile", "patterns": patterns.count, "rounds": times, "states": states])
}

/// Anchored greedy match of the cpppo README's regex over a file it fully matches.
func matchBench(file: String, rounds: Int) throws {
    let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    let dfa = try DFA(regex: "(ab+)((, *)(ab+))*", alphabet: .bytes)
    var end: Int? = nil
    let times = (0..<rounds).map { _ in seconds { end = dfa.match(input) } }
    report(["bench": "match", "bytes": input.count, "rounds": times, "end": end ?? -1])
}

/// Every match of a Modbus-reply-like byte pattern in a file of random bytes.
func searchBench(file: String, pattern: String, rounds: Int) throws {
    let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    let searcher = try DFA(regex: pattern, alphabet: .bytes).searcher()
    var found = 0
    let times = (0..<rounds).map { _ in seconds { found = searcher.matches(input).count } }
    report(["bench": "search", "bytes": input.count, "rounds": times, "matches": found])
}

let arguments = CommandLine.arguments
switch arguments.count > 1 ? arguments[1] : "" {
case "compile": try compileBench(suite: arguments[2], rounds: Int(arguments[3]) ?? 5)
case "match": try matchBench(file: arguments[2], rounds: Int(arguments[3]) ?? 3)
case "search": try searchBench(file: arguments[2], pattern: arguments[3], rounds: Int(arguments[4]) ?? 3)
default:
    FileHandle.standardError.write(Data("usage: automata-bench compile SUITE [ROUNDS] | match FILE [ROUNDS] | search FILE PATTERN [ROUNDS]\n".utf8))
    exit(2)
}
