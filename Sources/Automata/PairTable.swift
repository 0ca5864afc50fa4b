/// Transitions on two symbols at a time.
///
/// A table-driven DFA is bound by the latency of one dependent load per
/// symbol; reading symbols in pairs halves the chain. Each entry holds the
/// state after both symbols (the dead state if either kills the machine) and,
/// in a parallel array, whether the state between them accepts. Built only
/// when small: states × classes² entries.
struct PairTable: Sendable {
    static let maxEntries = 1 << 16

    /// `next[state + first * classes + second]`, states multiplied by classes².
    let next: [Int32]
    /// Whether the state after the first symbol of the pair accepts.
    let middleAccepts: [Bool]
    let stride: Int32

    init?(table: [Int32], classCount: Int, stateCount: Int, firstAccepting: Int32, dead: Int32) {
        let width = classCount * classCount
        guard stateCount * width <= Self.maxEntries else { return nil }
        var next = [Int32](repeating: 0, count: stateCount * width)
        var middle = [Bool](repeating: false, count: stateCount * width)
        for state in 0..<stateCount {
            for first in 0..<classCount {
                let between = table[state * classCount + first]
                for second in 0..<classCount {
                    let slot = state * width + first * classCount + second
                    let after = between == dead ? dead : table[Int(between) + second]
                    // States are rescaled from classes to classes²; the dead state (0, or -1 for none) keeps its value.
                    next[slot] = after == dead ? dead : after * Int32(classCount)
                    middle[slot] = between != dead && between >= firstAccepting
                }
            }
        }
        self.next = next
        middleAccepts = middle
        stride = Int32(classCount)
    }
}
