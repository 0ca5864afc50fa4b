/// Faults a `VirtualBus` puts on its wire, each a probability per byte carried.
public struct LineNoise: Sendable, Hashable {
    /// A burst of 1–4 random bytes before a byte.
    public var garbage: Double
    /// One data bit inverted.
    public var bitFlip: Double
    /// The byte lost.
    public var drop: Double
    /// A silence of `gapLength` after the byte (splits a frame in time).
    public var gap: Double
    /// How long each `gap` silence lasts: longer than t3.5 ends a frame early.
    public var gapLength: Duration
    /// Seeds the generator, so that a failing test can be replayed.
    public var seed: UInt64

    /// A noise profile; the defaults are a clean line with a fixed seed.
    public init(garbage: Double = 0, bitFlip: Double = 0, drop: Double = 0, gap: Double = 0,
                gapLength: Duration = .milliseconds(5), seed: UInt64 = 0x5EED) {
        self.garbage = garbage
        self.bitFlip = bitFlip
        self.drop = drop
        self.gap = gap
        self.gapLength = gapLength
        self.seed = seed
    }

    /// A clean line.
    public static let none = LineNoise()

    var isClean: Bool { garbage == 0 && bitFlip == 0 && drop == 0 && gap == 0 }
}

/// SplitMix64: small, fast, and the same sequence on every machine.
struct NoiseGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool {
        p > 0 && Double(next() >> 11) * 0x1p-53 < p
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}
