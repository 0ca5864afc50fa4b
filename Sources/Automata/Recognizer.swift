/// Runs a machine over input that arrives in chunks, as a serial line delivers it.
///
/// Each `feed` reports whether the sentence is accepted, rejected, or needs
/// more input. `terminal` has cpppo's meaning: the machine is in an accepting
/// state now, so stopping here recognises a sentence.
public struct Recognizer: Sendable {
    /// Where recognition stands after the input so far.
    public enum Status: Sendable, Hashable {
        /// The input so far is a live prefix: feed more, or `finish()`.
        case needsMore
        /// A sentence of `length` bytes from the start was recognised.
        case accepted(length: Int)
        /// No sentence starts the input; the byte at `at` could not be read.
        case rejected(at: Int)
    }

    /// The machine being run.
    public let dfa: DFA
    /// Longest sentence (cpppo's default) or first accept.
    public let greedy: Bool
    /// Bytes read so far.
    public private(set) var consumed = 0
    /// The answer so far; once accepted or rejected it stays until ``Recognizer/reset()``.
    public private(set) var status: Status = .needsMore
    private var state: Int32
    private var lastAccept = -1
    /// Unicode only: the start of a UTF-8 sequence cut by the end of a chunk.
    private var pending: [UInt8] = []

    /// Starts a recognizer for `dfa` at the beginning of a sentence; a machine that
    /// accepts the empty sentence may be accepted before any input.
    public init(_ dfa: DFA, greedy: Bool = true) {
        self.dfa = dfa
        self.greedy = greedy
        state = dfa.start
        reset()
    }

    /// Whether the machine accepts what it has read so far.
    public var terminal: Bool { dfa.accepts(state: state) }

    /// Starts again at the beginning of a new sentence.
    public mutating func reset() {
        state = dfa.start
        consumed = 0
        pending = []
        lastAccept = terminal ? 0 : -1
        status = !greedy && terminal || greedy && dfa.isFinal(state: state) ? .accepted(length: 0) : .needsMore
    }

    /// Reads the next chunk; once accepted or rejected, further input is left unread.
    @discardableResult
    public mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>) -> Status {
        var index = 0
        while status == .needsMore && index < chunk.count {
            switch dfa.alphabet {
            case .bytes:
                advance(dfa.classes.byteClass[Int(chunk[index])], width: 1)
                index += 1
            case .unicode:
                index += readScalar(chunk, at: index)
            }
        }
        return status
    }

    /// Reads the next chunk; once accepted or rejected, further input is left unread.
    @discardableResult
    public mutating func feed(_ chunk: [UInt8]) -> Status {
        chunk.withUnsafeBufferPointer { feed($0) }
    }

    /// The input has ended: a greedy machine accepts its longest sentence so far.
    @discardableResult
    public mutating func finish() -> Status {
        if status == .needsMore { stop(unreadAt: consumed) }
        return status
    }

    private mutating func advance(_ symbolClass: Int32, width: Int) {
        let position = consumed
        state = dfa.step(state, symbolClass)
        consumed += width
        if state == dfa.dead {
            stop(unreadAt: position)
        } else if dfa.accepts(state: state) {
            lastAccept = consumed
            if !greedy || dfa.isFinal(state: state) { status = .accepted(length: consumed) }
        }
    }

    /// Decodes one scalar (completing one cut by the last chunk); returns the bytes used.
    private mutating func readScalar(_ chunk: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        guard let width = UTF8Scalar.width(lead: pending.first ?? chunk[index]) else {
            stop(unreadAt: consumed)
            return 1
        }
        let taken = min(width - pending.count, chunk.count - index)
        pending.append(contentsOf: chunk[index..<(index + taken)])
        guard pending.count == width else { return taken }
        let decoded = pending.withUnsafeBufferPointer { UTF8Scalar.decode($0, at: 0) }
        pending.removeAll(keepingCapacity: true)
        if let (value, _) = decoded {
            advance(dfa.classes.classOf(scalar: value), width: width)
        } else {
            stop(unreadAt: consumed)
        }
        return taken
    }

    /// The machine can read no further than `position`: the longest sentence so far, or none.
    private mutating func stop(unreadAt position: Int) {
        status = lastAccept >= 0 ? .accepted(length: lastAccept) : .rejected(at: position)
    }
}
