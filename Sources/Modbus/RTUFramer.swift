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
    public struct Counters: Sendable, Hashable {
        public var frames = 0
        /// Bytes skipped that belonged to no valid frame.
        public var noiseBytes = 0
        /// Candidates that had a frame's shape but not its CRC.
        public var crcErrors = 0
        /// Our own requests heard back (an adapter with local echo).
        public var echoes = 0
        /// Deadlines that passed with a frame begun but not finished.
        public var timeouts = 0
    }

    public private(set) var counters = Counters()
    private var grammar: FrameGrammar
    private var buffer: [UInt8] = []
    /// The first byte not yet delivered or dropped.
    private var head = 0
    /// The request just sent, whose echo is not a reply.
    private var sent: [UInt8]?
    /// Learnt: this line echoes what we send (then a write's identical reply comes second).
    public private(set) var lineEchoes = false
    private var echoPending = false
    /// The bytes since the last confirmed frame (at most one frame's worth), for `silence()`.
    private var sinceFrame: [UInt8] = []
    /// Offsets in `sinceFrame` that followed a silence: where a frame ended by
    /// silence may begin.
    private var silenceMarks: [Int] = [0]
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
        grammar = FrameGrammar.replies(to: request, unit: unit, sent: frame)
        sent = frame
        echoPending = lineEchoes
    }

    /// Bytes buffered and not yet decided.
    public var pendingCount: Int { buffer.count - head }

    /// Adds what the line delivered; returns the valid frames it completes (unit, PDU and CRC).
    public mutating func receive(_ bytes: some Collection<UInt8>) -> [[UInt8]] {
        if head > 4096 && head * 2 > buffer.count {
            buffer.removeFirst(head)
            head = 0
        }
        buffer.append(contentsOf: bytes)
        sinceFrame.append(contentsOf: bytes)
        if sinceFrame.count > 256 {
            let excess = sinceFrame.count - 256
            sinceFrame.removeFirst(excess)
            silenceMarks = silenceMarks.map { $0 - excess }.filter { $0 >= 0 }
        }
        return scan()
    }

    /// The line has been silent for t3.5. If what followed an earlier silence
    /// is one frame for a served unit with a good CRC, but of a function the
    /// grammar does not know, it is a frame after all: ended by the silence,
    /// as the spec ends frames. Returns it, or nil. A frame that a scheduling
    /// hiccup split with a gap is not lost: its start is kept, and completed
    /// by the bytes after the gap.
    public mutating func silence() -> [UInt8]? {
        for start in silenceMarks where sinceFrame.count - start >= 4 && silenceUnits.contains(sinceFrame[start]) {
            let frame = Array(sinceFrame[start...])
            guard CRC16.isValid(frame) else { continue }
            // Those bytes are pending, or were counted as noise when the grammar turned them down.
            counters.noiseBytes -= max(0, frame.count - pendingCount)
            head = buffer.count
            counters.frames += 1
            sinceFrame.removeAll(keepingCapacity: true)
            silenceMarks = [0]
            return frame
        }
        if silenceMarks.last != sinceFrame.count { silenceMarks.append(sinceFrame.count) }
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
            switch grammar.machine.match(buffer, at: start, complete: false) {
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
                sinceFrame = Array(buffer[match.end...])
                silenceMarks = [0]
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

    private func nextCandidate(from position: Int) -> Int? {
        guard position < buffer.count else { return nil }
        return buffer.withUnsafeBufferPointer { bytes -> Int? in
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
