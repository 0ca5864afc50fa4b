/// A partition of an alphabet into classes of symbols that every set of a
/// pattern treats alike, so that machines index their tables by class, not symbol.
struct SymbolClasses: Sendable {
    let alphabet: Alphabet
    /// The ranges of symbols in each class.
    let ranges: [[ClosedRange<UInt32>]]
    /// The class of each byte (bytes), or of each ASCII scalar (unicode).
    let byteClass: [Int32]
    /// Unicode only: sorted first symbols of the intervals above ASCII, and their classes.
    let intervalStarts: [UInt32]
    let intervalClasses: [Int32]

    var count: Int { ranges.count }

    init(alphabet: Alphabet, sets: Set<SymbolSet>) {
        self.alphabet = alphabet
        let sets = Array(sets)
        let bounds = Self.boundaries(of: sets, alphabet: alphabet)
        // Intervals covered by the same sets fall into one class.
        var signatureClass: [[Int]: Int32] = [:]
        var classRanges: [[ClosedRange<UInt32>]] = []
        var intervalClass: [Int32] = []
        for index in 0..<(bounds.count - 1) {
            let interval = bounds[index]...(bounds[index + 1] - 1)
            let signature = sets.indices.filter { sets[$0].contains(interval.lowerBound) }
            let id = signatureClass[signature] ?? {
                let id = Int32(classRanges.count)
                signatureClass[signature] = id
                classRanges.append([])
                return id
            }()
            classRanges[Int(id)].append(interval)
            intervalClass.append(id)
        }
        ranges = classRanges
        byteClass = (0..<UInt32(alphabet == .bytes ? 256 : 128)).map { symbol in
            intervalClass[Self.interval(of: symbol, bounds: bounds)]
        }
        if alphabet == .unicode {
            let high = bounds.indices.dropLast().filter { bounds[$0 + 1] > 128 }
            intervalStarts = high.map { max(bounds[$0], 128) }
            intervalClasses = high.map { intervalClass[$0] }
        } else {
            intervalStarts = []
            intervalClasses = []
        }
    }

    /// The class of a Unicode scalar value.
    func classOf(scalar value: UInt32) -> Int32 {
        if value < 128 { return byteClass[Int(value)] }
        var low = 0
        var high = intervalStarts.count
        while high - low > 1 {
            let mid = (low + high) / 2
            if intervalStarts[mid] <= value { low = mid } else { high = mid }
        }
        return intervalClasses[low]
    }

    /// The classes that make up `set`.
    func classes(of set: SymbolSet) -> [Int32] {
        ranges.indices.filter { set.contains(ranges[$0][0].lowerBound) }.map(Int32.init)
    }

    private static func boundaries(of sets: [SymbolSet], alphabet: Alphabet) -> [UInt32] {
        var bounds: Set<UInt32> = [0, alphabet.maxSymbol + 1]
        if alphabet == .unicode { bounds.insert(128) }
        for set in sets {
            for range in set.ranges {
                bounds.insert(range.lowerBound)
                bounds.insert(range.upperBound + 1)
            }
        }
        return bounds.sorted()
    }

    private static func interval(of symbol: UInt32, bounds: [UInt32]) -> Int {
        var low = 0
        var high = bounds.count - 1
        while high - low > 1 {
            let mid = (low + high) / 2
            if bounds[mid] <= symbol { low = mid } else { high = mid }
        }
        return low
    }
}
