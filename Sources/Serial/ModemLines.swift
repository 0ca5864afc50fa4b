#if canImport(Glibc)
import Glibc
#endif

/// The modem control lines of a serial port (TIOCM_* bits).
public struct ModemLines: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The TIOCM_* bits, as `TIOCMGET` reports them.
    public let rawValue: Int32
    /// The lines whose TIOCM_* bits are set in `rawValue`.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Outputs.
    public static let rts = ModemLines(rawValue: TIOCM_RTS)
    /// Data Terminal Ready, an output.
    public static let dtr = ModemLines(rawValue: TIOCM_DTR)
    /// Inputs.
    public static let cts = ModemLines(rawValue: TIOCM_CTS)
    /// Data Set Ready, an input.
    public static let dsr = ModemLines(rawValue: TIOCM_DSR)
    /// Data Carrier Detect (CD), an input.
    public static let carrierDetect = ModemLines(rawValue: TIOCM_CAR)
    /// Ring Indicator (RI), an input.
    public static let ring = ModemLines(rawValue: TIOCM_RNG)

    private static let names: [(ModemLines, String)] = [
        (.rts, "RTS"), (.dtr, "DTR"), (.cts, "CTS"), (.dsr, "DSR"), (.carrierDetect, "CD"), (.ring, "RI"),
    ]

    /// The raised lines by their short names ("RTS DTR"), or "none".
    public var description: String {
        let set = Self.names.filter { contains($0.0) }.map(\.1)
        return set.isEmpty ? "none" : set.joined(separator: " ")
    }
}

extension SerialPort {
    /// The state of every modem line the driver reports. Ptys and some USB
    /// adapters have none: that is `.unsupported`, not an empty set.
    public func modemLines() throws(SerialError) -> ModemLines {
        var bits: Int32 = 0
        guard ioctl(descriptor, UInt(TIOCMGET), &bits) == 0 else { throw .system(.configure, path: path, "TIOCMGET (modem lines)") }
        return ModemLines(rawValue: bits)
    }

    /// Raises (`true`) or lowers (`false`) RTS and DTR; `nil` leaves a line as it is.
    public func setModemLines(rts: Bool? = nil, dtr: Bool? = nil) throws(SerialError) {
        for (line, wanted) in [(ModemLines.rts, rts), (.dtr, dtr)] {
            guard let wanted else { continue }
            var bits = line.rawValue
            let request = wanted ? TIOCMBIS : TIOCMBIC
            guard ioctl(descriptor, UInt(request), &bits) == 0 else {
                throw .system(.configure, path: path, "\(wanted ? "raise" : "lower") \(line)")
            }
        }
    }
}
