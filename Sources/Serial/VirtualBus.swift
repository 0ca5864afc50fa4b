#if canImport(Glibc)
import Glibc
#endif
import CSerialShim
import Synchronization
import Threads

/// A multi-drop RS485 bus made of pty ends, for tests and the demo.
///
/// Every byte written at one end reaches every other end, and its writer only
/// when `localEcho` is on (an adapter that hears itself). With `paced`, bytes
/// come out one character time apart at the settings' baud and framing, so a
/// reader sees the timing of a real line; the wire is shared, so two writers
/// queue behind each other instead of colliding. `noise` adds garbage, bit
/// flips, dropped bytes and gaps; `stuck` makes the line send one byte for ever.
///
/// One thread carries the bytes; it stops at `stop()` or when the bus is released.
public final class VirtualBus: Sendable {
    /// What the wire has done, for tests to check against.
    public struct Statistics: Sendable, Hashable {
        /// Bytes delivered from one end to the others (garbage included).
        public var carried = 0
        /// Bytes of garbage put on the wire.
        public var garbage = 0
        /// Bytes carried with a bit inverted.
        public var flipped = 0
        /// Bytes lost on the wire.
        public var dropped = 0
        /// Silences of ``LineNoise/gapLength`` put after a byte.
        public var gaps = 0
        /// Bytes an end did not read in time and lost (its pty buffer was full).
        public var overflowed = 0
    }

    /// The wire's idle time at a change of speaker: from the carrier's
    /// delivery of the last byte one end wrote to its reading of the first
    /// byte another end wrote. Before end 0 (a master) after a slave's reply,
    /// it is the master's silence before its next request, which the spec
    /// asks to be t3.5; what exceeds that is the master's (and the ptys').
    public struct Silence: Sendable, Hashable {
        /// The end that spoke last.
        public var after: Int
        /// The end that speaks now.
        public var before: Int
        /// Negative when `before` wrote while `after`'s bytes were still on the wire.
        public var idle: Duration
    }

    /// The device paths of the ends, to open as serial ports.
    public let paths: [String]
    /// The line's speed and framing, which set the pace of the bytes.
    public let settings: SerialSettings
    /// Whether bytes come out one character time apart, as on a real line, or
    /// as fast as the ptys take them.
    public let paced: Bool
    private let wire: Wire
    private let thread = Mutex<WorkerThread?>(nil)

    /// Makes a bus of `count` ends and starts carrying bytes.
    /// - Throws: ``SerialError`` when a pty cannot be made.
    public init(ends count: Int, settings: SerialSettings = SerialSettings(), paced: Bool = true,
                noise: LineNoise = .none, localEcho: Bool = false) throws(SerialError) {
        precondition(count >= 1, "a bus needs at least one end")
        var terminals: [PseudoTerminal?] = []
        for _ in 0..<count {
            let terminal = try PseudoTerminal()
            // The carrier must never block on an end that nobody reads.
            _ = fcntl(terminal.controller, F_SETFL, fcntl(terminal.controller, F_GETFL) | O_NONBLOCK)
            terminals.append(terminal)
        }
        paths = terminals.map { $0!.path }
        self.settings = settings
        self.paced = paced
        wire = Wire(ends: terminals, options: Wire.Options(noise: noise, localEcho: localEcho, stuck: nil))
        start()
    }

    deinit { stop() }

    /// What the wire has done so far.
    public var statistics: Statistics { wire.counters.withLock { $0 } }

    /// The silences since the last call, oldest first (at most the latest 65,536 are kept).
    public func takeSilences() -> [Silence] {
        wire.silences.withLock { list in defer { list = [] }; return list }
    }

    /// Whether a writer hears its own bytes; it may change while the bus runs.
    public var localEcho: Bool {
        get { wire.options.withLock { $0.localEcho } }
        set { wire.options.withLock { $0.localEcho = newValue } }
    }

    /// The faults the wire adds from now on; it may change while the bus runs.
    public var noise: LineNoise {
        get { wire.options.withLock { $0.noise } }
        set { wire.options.withLock { $0.noise = newValue }; wire.poke() }
    }

    /// A line held by a failed transceiver: `byte` (0x00 for a line held low,
    /// 0xFF for one floating high) sent back to back to every end; nil frees it.
    public var stuck: UInt8? {
        get { wire.options.withLock { $0.stuck } }
        set { wire.options.withLock { $0.stuck = newValue }; wire.poke() }
    }

    /// Puts `bytes` on the wire as if from nowhere: every end receives them.
    public func inject(_ bytes: [UInt8]) {
        wire.injected.withLock { $0.append(contentsOf: bytes) }
        wire.poke()
    }

    /// Takes end `index` off the bus as an unplug would: a port on it sees a
    /// hang-up. The carrier closes it, between two passes, so that no
    /// descriptor is closed under its feet; this returns once it is closed.
    public func disconnect(_ index: Int) {
        _ = wire.closing.withLock { $0.insert(index) }
        wire.poke()
        while wire.closing.withLock({ $0.contains(index) }) && thread.withLock({ $0 != nil }) { usleep(200) }
    }

    /// Stops carrying bytes and closes every end.
    public func stop() {
        let running = thread.withLock { handle -> WorkerThread? in defer { handle = nil }; return handle }
        guard let running else { return }
        wire.stopping.withLock { $0 = true }
        wire.poke()
        running.join()
        wire.closeAll()
    }

    private func start() {
        let box = CarrierBox(Carrier(wire: wire, settings: settings, paced: paced))
        let carrier = WorkerThread(name: "virtual bus") {
            var carrier = box.carrier
            carrier.run()
        }
        thread.withLock { $0 = carrier }
    }
}

/// Moves the carrier onto its thread.
private final class CarrierBox: @unchecked Sendable {
    let carrier: Carrier
    init(_ carrier: Carrier) { self.carrier = carrier }
}

/// What the bus and its carrier thread share, each part behind its lock.
final class Wire: Sendable {
    struct Options: Sendable {
        var noise: LineNoise
        var localEcho: Bool
        var stuck: UInt8?
    }

    let options: Mutex<Options>
    let counters = Mutex(VirtualBus.Statistics())
    let silences = Mutex<[VirtualBus.Silence]>([])
    let injected = Mutex<[UInt8]>([])
    let closing = Mutex<Set<Int>>([])
    let stopping = Mutex(false)
    let wake: Int32
    /// The controller descriptor of each end, -1 once closed (poll skips it).
    let controllers: Mutex<[Int32]>
    private let ends: Mutex<[PseudoTerminal?]>

    init(ends: sending [PseudoTerminal?], options: Options) {
        controllers = Mutex(ends.map { $0?.controller ?? -1 })
        self.ends = Mutex(ends)
        self.options = Mutex(options)
        wake = fgw_event_descriptor()
    }

    deinit { Glibc.close(wake) }

    func poke() {
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, 8)
    }

    /// Called by the carrier only, or after it has stopped.
    func close(_ index: Int) {
        controllers.withLock { $0[index] = -1 }
        ends.withLock { $0[index]?.close(); $0[index] = nil }
    }

    func closeAll() {
        let count = controllers.withLock { $0.count }
        for index in 0..<count { close(index) }
        closing.withLock { $0.removeAll() }
    }
}
