/// Finds Modbus ASCII frames (':', unit, PDU and LRC as hex, CR LF) in a
/// stream that may carry noise, as the RTU framer does for RTU: bytes outside
/// a frame are noise, a frame whose LRC is wrong is a CRC error (the counters
/// are the RTU framer's), and a frame whose characters stop for longer than
/// the inter-character timeout (one second in the spec) is abandoned.
public struct ASCIIFramer: Sendable {
    /// What the framer has seen, counted as ``RTUFramer`` counts: LRC errors are
    /// ``RTUFramer/Counters/crcErrors``.
    public private(set) var counters = RTUFramer.Counters()
    /// The longest pause between two characters of one frame.
    public var characterTimeout: Duration
    /// From ':' on, while a frame is being received.
    private var candidate: [UInt8] = []
    private var lastByte = ContinuousClock.now

    /// The longest frame: ':', 2 × (unit, 253-byte PDU, LRC), CR LF.
    static let maximumLength = 1 + 2 * (1 + Limits.pduBytes + 1) + 2

    /// A framer with nothing received; the spec's inter-character timeout is one
    /// second.
    public init(characterTimeout: Duration = .seconds(1)) {
        self.characterTimeout = characterTimeout
    }

    /// Every whole, valid frame the bytes complete, as unit and PDU.
    public mutating func receive(_ bytes: some Collection<UInt8>, at now: ContinuousClock.Instant = .now) -> [(unit: UInt8, pdu: [UInt8])] {
        if !candidate.isEmpty && now - lastByte > characterTimeout { timeout() }
        lastByte = now
        var frames: [(unit: UInt8, pdu: [UInt8])] = []
        for byte in bytes {
            if let frame = take(byte) { frames.append(frame) }
        }
        return frames
    }

    /// A deadline passed: a frame begun is abandoned.
    public mutating func timeout() {
        guard !candidate.isEmpty else { return }
        counters.timeouts += 1
        abandon()
    }

    /// Counts our own request heard back (a line with local echo).
    public mutating func countEcho() {
        counters.frames -= 1
        counters.echoes += 1
    }

    private mutating func take(_ byte: UInt8) -> (unit: UInt8, pdu: [UInt8])? {
        if byte == UInt8(ascii: ":") {
            abandon()
            candidate = [byte]
            return nil
        }
        guard !candidate.isEmpty else {
            counters.noiseBytes += 1
            return nil
        }
        candidate.append(byte)
        let isHex = byte.isASCIIHexDigit
        let ending = byte == 0x0D && candidate.count >= 2 || byte == 0x0A && candidate.dropLast().last == 0x0D
        guard isHex || ending, candidate.count <= Self.maximumLength else {
            abandon()
            return nil
        }
        guard byte == 0x0A else { return nil }
        return decodeCandidate()
    }

    private mutating func decodeCandidate() -> (unit: UInt8, pdu: [UInt8])? {
        defer { candidate = [] }
        do {
            let frame = try ModbusASCII.decode(candidate)
            counters.frames += 1
            return frame
        } catch where error.reason.hasPrefix("LRC") {
            counters.crcErrors += 1
        } catch {
            counters.noiseBytes += candidate.count
        }
        return nil
    }

    private mutating func abandon() {
        counters.noiseBytes += candidate.count
        candidate = []
    }
}

extension UInt8 {
    var isASCIIHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
    }
}
