/// A set of symbols, kept as sorted, disjoint, non-adjacent closed ranges.
public struct SymbolSet: Sendable, Hashable {
    /// The ranges, sorted, with no two overlapping or touching.
    public private(set) var ranges: [ClosedRange<UInt32>]

    /// The empty set.
    public init() { ranges = [] }

    /// The set of one symbol.
    public init(_ symbol: UInt32) { ranges = [symbol...symbol] }

    /// The symbols in any of `input`'s ranges, which may overlap and come in any
    /// order.
    public init<S: Sequence>(ranges input: S) where S.Element == ClosedRange<UInt32> {
        ranges = SymbolSet.normalized(Array(input))
    }

    /// Every symbol of `alphabet`: what `.` matches.
    public static func all(_ alphabet: Alphabet) -> SymbolSet {
        SymbolSet(ranges: [0...alphabet.maxSymbol])
    }

    /// Whether the set has no symbols.
    public var isEmpty: Bool { ranges.isEmpty }

    /// Whether `symbol` is in the set, found by binary search over the ranges.
    public func contains(_ symbol: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < symbol { low = mid + 1 } else { high = mid }
        }
        return low < ranges.count && ranges[low].contains(symbol)
    }

    /// The symbols in either set.
    public func union(_ other: SymbolSet) -> SymbolSet {
        SymbolSet(ranges: ranges + other.ranges)
    }

    /// The symbols of `alphabet` that are not in this set.
    public func inverted(in alphabet: Alphabet) -> SymbolSet {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges where range.lowerBound <= alphabet.maxSymbol {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            if range.upperBound >= alphabet.maxSymbol { return SymbolSet(ranges: result) }
            next = range.upperBound + 1
        }
        result.append(next...alphabet.maxSymbol)
        return SymbolSet(ranges: result)
    }

    private static func normalized(_ input: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        let sorted = input.sorted { $0.lowerBound < $1.lowerBound }
        var result: [ClosedRange<UInt32>] = []
        for range in sorted {
            if let last = result.last, range.lowerBound <= last.upperBound &+ 1, last.upperBound != .max {
                result[result.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }
}

extension SymbolSet {
    /// `\d`: the ASCII digits.
    public static let digits = SymbolSet(ranges: [0x30...0x39])
    /// `\w`: ASCII letters, digits and underscore (as greenery and Python's ASCII mode define it).
    public static let word = SymbolSet(ranges: [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    /// `\s`: tab, newline, vertical tab, form feed, carriage return and space.
    public static let space = SymbolSet(ranges: [0x09...0x0D, 0x20...0x20])
}
