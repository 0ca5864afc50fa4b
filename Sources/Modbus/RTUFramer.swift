import Automata
#if canImport(Glibc)
import Glibc
#endif

/// Finds RTU frames in the bytes a serial line delivers, noise and all.
///
/// The bytes that may come next are described by a `FrameGrammar` (the reply
/// to the request just sent, or the requests for the units served), compiled
/// by Automata. At each byte that may start a frame the framer runs the
/// machine; a recognised frame counts only if its CRC is right. Bytes before a
/// confirmed frame are noise (or our own request's local echo) and are counted
/// and dropped; a bit-flipped frame fails its CRC and is never delivered; a
/// frame cut short waits for more bytes until the caller's deadline calls
/// `timeout()`. Frames split across reads, or several in one read, come out
/// the same.
public struct RTUFramer: Sendable {
    /// What a framer has seen on its line, for diagnostics and metrics.
    public struct Counters: Sendable, Hashable {
        /// Valid frames delivered.
        public var frames = 0
        /// Bytes skipped that belonged to no valid frame.
        public var noiseBytes = 0
        /// Candidates that had a frame's shape but not its CRC.
        public var crcErrors = 0
        /// Our own requests heard back (an adapter with local echo).
        public var echoes = 0
        /// Deadlines that passed with a frame begun but not finished.
        public var timeouts = 0
        /// Replies that matched no request in flight (Modbus/TCP: a late reply, or an unknown transaction id).
        public var strays = 0

        /// Counters with the given values (all 0: none seen).
        public init(frames: Int = 0, noiseBytes: Int = 0, crcErrors: Int = 0, echoes: Int = 0, timeouts: Int = 0, strays: Int = 0) {
            self.frames = frames
            self.noiseBytes = noiseBytes
            self.crcErrors = crcErrors
            self.echoes = echoes
            self.timeouts = timeouts
            self.strays = strays
        }
    }

    /// What the framer has seen so far.
    public private(set) var counters = Counters()
    private var grammar: FrameGrammar
    /// By the request frame sent: see `replyGrammar(to:unit:sent:)`.
    private var replyGrammars: [[UInt8]: FrameGrammar] = [:]
    private var buffer: [UInt8] = []
    /// The first byte not yet delivered or dropped.
    private var head = 0
    /// The request just sent, whose echo is not a reply.
    private var sent: [UInt8]?
    /// Learnt: this line echoes what we send (then a write's identical reply comes second).
    public private(set) var lineEchoes = false
    private var echoPending = false
    /// Where in `buffer` the last confirmed frame ended: `silence()` looks at
    /// the bytes since (at most one frame's worth), which stay in the buffer
    /// though they were dropped as noise.
    private var frameEnd = 0
    /// Offsets in `buffer` that followed a silence: where a frame ended by
    /// silence may begin.
    private var silenceMarks: [Int] = [0]
    /// The longest frame: how far back a frame ended by silence may begin.
    private static let longestFrame = 256
    private let silenceUnits: Set<UInt8>

    /// A slave's framer: the requests for `units` (and broadcasts).
    public init(servingUnits units: Set<UInt8>) {
        grammar = FrameGrammar.requests(units: units)
        silenceUnits = units.union([0])
    }

    /// A master's framer; call `expectReply` before each transaction.
    public init() {
        grammar = FrameGrammar.requests(units: [])
        silenceUnits = []
    }

    /// Sets up for the reply to `request` sent to `unit` as `frame`, dropping
    /// whatever is buffered (it cannot be the reply to a request not yet sent).
    public mutating func expectReply(to request: Request, unit: UInt8, sent frame: [UInt8]) {
        counters.noiseBytes += buffer.count - head
        buffer.removeAll(keepingCapacity: true)
        head = 0
        frameEnd = 0
        silenceMarks = [0]
        grammar = replyGrammar(to: request, unit: unit, sent: frame)
        sent = frame
        echoPending = lineEchoes
    }

    /// The grammar of the replies to the request `frame`, compiled once: a
    /// master sends the same few requests over and over (its polls), and
    /// compiling costs far more than the transaction's own work.
    private mutating func replyGrammar(to request: Request, unit: UInt8, sent frame: [UInt8]) -> FrameGrammar {
        if let known = replyGrammars[frame] { return known }
        if replyGrammars.count >= Self.replyGrammarLimit { replyGrammars.removeAll(keepingCapacity: true) }
        let compiled = FrameGrammar.replies(to: request, unit: unit, sent: frame)
        replyGrammars[frame] = compiled
        return compiled
    }

    /// Reply grammars kept per framer (a few KiB each); past it they are all let go and compiled again as needed.
    static let replyGrammarLimit = 1024

    /// Bytes buffered and not yet decided.
    public var pendingCount: Int { buffer.count - head }

    /// Adds what the line delivered; returns the valid frames it completes (unit, PDU and CRC).
    public mutating func receive(_ bytes: some Collection<UInt8>) -> [[UInt8]] {
        compact()
        buffer.append(contentsOf: bytes)
        return scan()
    }

    /// Drops decided bytes from the buffer's front once they are many, but
    /// keeps the last frame's worth for `silence()`.
    private mutating func compact() {
        let removable = min(head, buffer.count - Self.longestFrame)
        guard removable > 4096 && removable * 2 > buffer.count else { return }
        buffer.removeFirst(removable)
        head -= removable
        frameEnd = max(0, frameEnd - removable)
        silenceMarks = silenceMarks.map { $0 - removable }.filter { $0 >= 0 }
    }

    /// The line has been silent for t3.5. If what followed an earlier silence
    /// is one frame for a served unit with a good CRC, but of a function the
    /// grammar does not know, it is a frame after all: ended by the silence,
    /// as the spec ends frames. Returns it, or nil. A frame that a scheduling
    /// hiccup split with a gap is not lost: its start is kept, and completed
    /// by the bytes after the gap.
    public mutating func silence() -> [UInt8]? {
        let earliest = max(frameEnd, buffer.count - Self.longestFrame)
        silenceMarks.removeAll { $0 < earliest }
        for start in silenceMarks where buffer.count - start >= 4 && silenceUnits.contains(buffer[start]) {
            let frame = Array(buffer[start...])
            guard CRC16.isValid(frame) else { continue }
            // Those bytes are pending, or were counted as noise when the grammar turned them down.
            counters.noiseBytes -= max(0, frame.count - pendingCount)
            head = buffer.count
            counters.frames += 1
            frameEnd = buffer.count
            silenceMarks = [buffer.count]
            return frame
        }
        if silenceMarks.last != buffer.count { silenceMarks.append(buffer.count) }
        return nil
    }

    /// The deadline passed: whatever is buffered will not become a frame.
    public mutating func timeout() {
        if pendingCount > 0 { counters.timeouts += 1 }
        drop(upTo: buffer.count)
    }

    private mutating func scan() -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var position = head
        var pending: Int?
        while let start = nextCandidate(from: position) {
            switch match(at: start) {
            case .failed:
                position = start + 1
            case .needsMore:
                if pending == nil { pending = start }
                position = start + 1
            case .matched(let match):
                guard isValidCRC(start..<match.end) else {
                    counters.crcErrors += 1
                    position = start + 1
                    continue
                }
                drop(upTo: start)
                frameEnd = match.end
                // Reusing the array's storage: a new one per frame cost 3% of the framer's time.
                silenceMarks.removeAll(keepingCapacity: true)
                silenceMarks.append(match.end)
                let frame = Array(buffer[start..<match.end])
                head = match.end
                position = match.end
                pending = nil
                if isEcho(frame) { counters.echoes += 1 } else {
                    counters.frames += 1
                    frames.append(frame)
                }
            }
        }
        drop(upTo: pending ?? buffer.count)
        return frames
    }

    /// The first outcome that is not a failure, of the machines the frame's
    /// first two bytes allow (all of them when only one byte is here).
    private func match(at start: Int) -> Composite.Outcome {
        let allowed = start + 1 < buffer.count ? grammar.firstPairs.machines(buffer[start], buffer[start + 1]) : 0xFF
        for (index, machine) in grammar.machines.enumerated() where allowed & (1 << UInt8(index)) != 0 {
            let outcome = machine.match(buffer, at: start, complete: false)
            if case .failed = outcome { continue }
            return outcome
        }
        return .failed
    }

    /// Our request heard back: always for a request whose reply differs from
    /// it; for one whose reply is its echo (FC5, FC6, FC8), only first and
    /// only on a line known to echo.
    private mutating func isEcho(_ frame: [UInt8]) -> Bool {
        guard let sent, frame == sent else { return false }
        let selfEchoing = [5, 6, 8].contains(frame.count > 1 ? frame[1] : 0)
        if !selfEchoing {
            lineEchoes = true
            return true
        }
        if echoPending {
            echoPending = false
            return true
        }
        return false
    }

    /// The next offset where a frame may start: a unit the grammar allows,
    /// followed by a function it allows (or by the end of the buffer).
    private func nextCandidate(from position: Int) -> Int? {
        guard position < buffer.count else { return nil }
        return buffer.withUnsafeBufferPointer { bytes -> Int? in
            var index = position
            while let start = firstByte(in: bytes, from: index) {
                if start + 1 == bytes.count || grammar.firstPairs.machines(bytes[start], bytes[start + 1]) != 0 { return start }
                index = start + 1
            }
            return nil
        }
    }

    private func firstByte(in bytes: UnsafeBufferPointer<UInt8>, from position: Int) -> Int? {
        guard position < bytes.count else { return nil }
        if let only = grammar.onlyFirstByte {
            guard let found = memchr(bytes.baseAddress! + position, Int32(only), bytes.count - position) else { return nil }
            return bytes.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self))
        }
        var index = position
        while index < bytes.count {
            if grammar.firstBytes[Int(bytes[index])] { return index }
            index += 1
        }
        return nil
    }

    private func isValidCRC(_ range: Range<Int>) -> Bool {
        buffer.withUnsafeBufferPointer { CRC16.isValid(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    /// Counts bytes from the head to `end` as noise and moves past them.
    private mutating func drop(upTo end: Int) {
        guard end > head else { return }
        counters.noiseBytes += end - head
        head = end
    }
}
