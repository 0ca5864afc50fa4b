/// Limits on the machines a compilation may build, so that a pattern such as
/// `(a|b)*a(a|b){30}` fails with a clear error instead of exhausting memory.
public struct CompileOptions: Sendable, Hashable {
    /// The most states any deterministic machine may have.
    public var maxStates: Int
    /// The most states the intermediate NFA may have.
    public var maxNFAStates: Int

    /// Creates limits; the defaults leave room for any frame grammar and still
    /// stop a runaway pattern.
    public init(maxStates: Int = 50_000, maxNFAStates: Int = 1_000_000) {
        self.maxStates = maxStates
        self.maxNFAStates = maxNFAStates
    }
}
