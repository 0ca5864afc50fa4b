#if canImport(Glibc)
import Glibc
#endif
import CSerialShim

/// The carrier thread of a `VirtualBus`: reads what each end writes, puts it
/// on the shared wire (with noise), and hands each byte to the other ends when
/// its character time on the wire has passed.
struct Carrier {
    private struct Byte {
        let value: UInt8
        /// The end that wrote it; nil for noise and injected bytes, which every end hears.
        let source: Int?
        /// When its last bit has crossed the wire.
        let due: ContinuousClock.Instant
    }

    private let wire: Wire
    private let characterTime: Duration
    private let stuckTime: Duration
    private var generator: NoiseGenerator
    private var queue: [Byte] = []
    private var head = 0
    /// When the wire is free for the next character.
    private var free = ContinuousClock.now
    /// The end whose bytes went on the wire last, and when the carrier last handed bytes over.
    private var speaker: Int?
    private var lastDelivery = ContinuousClock.now

    init(wire: Wire, settings: SerialSettings, paced: Bool) {
        self.wire = wire
        characterTime = paced ? settings.characterTime : .zero
        stuckTime = settings.characterTime
        generator = NoiseGenerator(seed: wire.options.withLock { $0.noise.seed })
    }

    mutating func run() {
        // Pacing needs its timed waits to end on time, as a UART's would.
        _ = fgw_precise_timers()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !wire.stopping.withLock({ $0 }) {
            closeRequestedEnds()
            let options = wire.options.withLock { $0 }
            fillStuckLine(options.stuck)
            let ready = waitForInput(until: queue.indices.contains(head) ? queue[head].due : nil)
            drainWake()
            for index in ready { readEnd(index, into: &buffer, noise: options.noise) }
            let injected = wire.takeInjected()
            if !injected.isEmpty { put(injected, from: nil, noise: .none) }
            deliverDue(echo: options.localEcho)
        }
    }

    private func closeRequestedEnds() {
        let requests = wire.closing.withLock { $0 }
        guard !requests.isEmpty else { return }
        for index in requests { wire.close(index) }
        wire.closing.withLock { $0.subtract(requests) }
    }

    /// Keeps a stuck line's bytes flowing about 2 ms ahead of now.
    private mutating func fillStuckLine(_ stuck: UInt8?) {
        guard let stuck else { return }
        let horizon = ContinuousClock.now + .milliseconds(2)
        while free < horizon {
            free = max(free, .now) + stuckTime
            queue.append(Byte(value: stuck, source: nil, due: free))
        }
    }

    /// Polls every open end and the wake descriptor until `deadline` (or
    /// 1 s with nothing queued); returns the ends that have bytes.
    private func waitForInput(until deadline: ContinuousClock.Instant?) -> [Int] {
        let controllers = wire.controllers.withLock { $0 }
        var requests = controllers.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        requests.append(pollfd(fd: wire.wake, events: Int16(POLLIN), revents: 0))
        let wait = deadline.map { max(.zero, ContinuousClock.now.duration(to: $0)) } ?? .seconds(1)
        let nanoseconds = wait.components.seconds * 1_000_000_000 + wait.components.attoseconds / 1_000_000_000
        guard fgw_wait_many(&requests, UInt(requests.count), nanoseconds) > 0 else { return [] }
        return controllers.indices.filter { requests[$0].revents & Int16(POLLIN) != 0 }
    }

    private func drainWake() {
        var count: UInt64 = 0
        _ = Glibc.read(wire.wake, &count, 8)
    }

    private mutating func readEnd(_ index: Int, into buffer: inout [UInt8], noise: LineNoise) {
        let descriptor = wire.controllers.withLock { $0[index] }
        guard descriptor >= 0 else { return }
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return }
        noteSpeaker(index)
        put(Array(buffer[0..<count]), from: index, noise: noise)
    }

    /// Logs the wire's silence when `index` speaks after another end.
    private mutating func noteSpeaker(_ index: Int) {
        defer { speaker = index }
        guard let previous = speaker, previous != index else { return }
        let delivered = head == queue.count
        let idle = delivered ? ContinuousClock.now - lastDelivery : ContinuousClock.now - (queue.last?.due ?? .now)
        wire.silences.withLock { list in
            if list.count == 1 << 16 { list.removeFirst(1 << 12) }
            list.append(VirtualBus.Silence(after: previous, before: index, idle: idle))
        }
    }

    /// Puts bytes on the wire one character time apart, with noise as they go.
    private mutating func put(_ bytes: [UInt8], from source: Int?, noise: LineNoise) {
        if head > 4096 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        for value in bytes {
            if !noise.isClean { addNoise(before: value, noise: noise) }
            if generator.chance(noise.drop) {
                wire.counters.withLock { $0.dropped += 1 }
                continue
            }
            var sent = value
            if generator.chance(noise.bitFlip) {
                sent ^= 1 << UInt8(generator.below(8))
                wire.counters.withLock { $0.flipped += 1 }
            }
            schedule(sent, from: source)
            if generator.chance(noise.gap) {
                free = free + noise.gapLength
                wire.counters.withLock { $0.gaps += 1 }
            }
        }
    }

    private mutating func addNoise(before value: UInt8, noise: LineNoise) {
        guard generator.chance(noise.garbage) else { return }
        let burst = 1 + generator.below(4)
        for _ in 0..<burst { schedule(generator.byte(), from: nil) }
        wire.counters.withLock { $0.garbage += burst }
    }

    private mutating func schedule(_ value: UInt8, from source: Int?) {
        free = max(free, .now) + characterTime
        queue.append(Byte(value: value, source: source, due: free))
    }

    /// Writes every byte whose time has come to each end that should hear it.
    private mutating func deliverDue(echo: Bool) {
        let now = ContinuousClock.now
        var end = head
        while end < queue.count && queue[end].due <= now { end += 1 }
        guard end > head else { return }
        let due = queue[head..<end]
        head = end
        // Stamped before the writes, so that a reader who wakes before the
        // carrier reads the clock again is never measured as too quick.
        let delivery = ContinuousClock.now
        let controllers = wire.controllers.withLock { $0 }
        // Counted before they are written, so that a reader never sees more than the count says.
        wire.counters.withLock { [carried = due.count] in $0.carried += carried }
        var lost = 0
        for (index, descriptor) in controllers.enumerated() where descriptor >= 0 {
            let bytes = due.filter { echo || $0.source != index }.map(\.value)
            guard !bytes.isEmpty else { continue }
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            lost += bytes.count - max(0, written)
        }
        if lost > 0 { wire.counters.withLock { $0.overflowed += lost } }
        lastDelivery = delivery
    }
}

extension Wire {
    func takeInjected() -> [UInt8] { injected.withLock { list in defer { list = [] }; return list } }
}
