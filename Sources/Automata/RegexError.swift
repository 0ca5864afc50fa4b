/// A regular expression that cannot be compiled: where, and why.
public struct RegexError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The pattern as given.
    public let pattern: String
    /// The position of the fault, counted in Unicode scalars from 0.
    public let position: Int
    /// What is wrong there.
    public let reason: String

    /// The position and reason, then the pattern with a caret under the fault.
    public var description: String {
        let prefix = String(String.UnicodeScalarView(pattern.unicodeScalars.prefix(position)))
        let caret = String(repeating: " ", count: prefix.count) + "^"
        return "bad regex at position \(position): \(reason)\n  \(pattern)\n  \(caret)"
    }
}

/// A machine that would be larger than allowed.
public struct StateLimitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The limit that was reached.
    public let limit: Int
    /// Which construction reached it.
    public let stage: String

    /// Which stage ran out and how to get past it.
    public var description: String {
        "\(stage) needs more than \(limit) states; simplify the pattern or raise the limit (CompileOptions.maxStates)"
    }
}
