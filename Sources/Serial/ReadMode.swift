/// How `read` waits for bytes.
///
/// `.deadline` is the gateway's mode: the descriptor is non-blocking with
/// VMIN=0/VTIME=0 and `read(into:deadline:)` waits with `ppoll` to the
/// microsecond. The four kernel modes are the termios VMIN/VTIME pairs, with
/// the descriptor made blocking so that the kernel's timers apply exactly as
/// drivers/tty/n_tty.c defines them:
///
/// | VMIN | VTIME | a blocking `read()` returns |
/// |---|---|---|
/// | 0 | 0 | at once, with what is queued (maybe nothing) |
/// | N | 0 | when N bytes have arrived, however long that takes |
/// | 0 | T | with the first bytes, or with nothing after T × 0.1 s |
/// | N | T | when N bytes have arrived or T × 0.1 s passed with no new byte; the timer starts only after a first byte, so it may block for ever |
public enum ReadMode: Sendable, Hashable {
    /// Non-blocking, VMIN=0/VTIME=0, waits against a deadline: the gateway's mode.
    case deadline
    /// The kernel's VMIN/VTIME on a blocking descriptor. `tenths` counts 0.1 s.
    case kernel(minimum: UInt8, tenths: UInt8)

    /// VMIN=0, VTIME=0: return at once with what is queued.
    public static let immediate = ReadMode.kernel(minimum: 0, tenths: 0)
    /// VMIN=N, VTIME=0: wait for N bytes.
    public static func count(_ minimum: UInt8) -> ReadMode { .kernel(minimum: minimum, tenths: 0) }
    /// VMIN=0, VTIME=T: wait at most T tenths of a second in all.
    public static func total(tenths: UInt8) -> ReadMode { .kernel(minimum: 0, tenths: tenths) }
    /// VMIN=N, VTIME=T: after a first byte, wait for N bytes while no gap exceeds T tenths.
    public static func interByte(minimum: UInt8, tenths: UInt8) -> ReadMode { .kernel(minimum: minimum, tenths: tenths) }

    var controlCharacters: (minimum: UInt8, tenths: UInt8) {
        switch self {
        case .deadline: (0, 0)
        case .kernel(let minimum, let tenths): (minimum, tenths)
        }
    }
}
