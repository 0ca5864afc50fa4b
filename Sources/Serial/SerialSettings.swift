/// How a serial line is framed and paced.
public struct SerialSettings: Sendable, Hashable {
    /// The parity bit: none, even, odd, or held at 1 (mark) or 0 (space).
    public enum Parity: String, Sendable, CaseIterable { case none, even, odd, mark, space }
    /// Flow control: none (Modbus's), RTS/CTS hardware, or XON/XOFF software.
    public enum FlowControl: String, Sendable, CaseIterable { case none, rtsCts, xonXoff }

    /// Bits per second; any rate the driver takes, standard or not.
    public var baud: Int
    /// Data bits per character, 5 to 8.
    public var dataBits: Int
    /// The parity bit, if any.
    public var parity: Parity
    /// Stop bits per character, 1 or 2.
    public var stopBits: Int
    /// How the line paces the sender.
    public var flowControl: FlowControl

    /// Defaults are the Modbus/RTU spec's: 19200 baud, 8 data bits, even parity, 1 stop bit.
    public init(baud: Int = 19200, dataBits: Int = 8, parity: Parity = .even, stopBits: Int = 1, flowControl: FlowControl = .none) {
        self.baud = baud
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
    }

    /// Bits on the wire per character: start, data, parity, stop.
    public var bitsPerCharacter: Int { 1 + dataBits + (parity == .none ? 0 : 1) + stopBits }

    /// One character's time on the wire.
    public var characterTime: Duration { .nanoseconds(Int64(bitsPerCharacter) * 1_000_000_000 / Int64(baud)) }

    /// The silence that may separate characters within a frame: 1.5 characters,
    /// fixed at 750 µs above 19200 baud as the Modbus spec says.
    public var t15: Duration { baud > 19200 ? .microseconds(750) : characterTime * 1.5 }

    /// The silence that separates frames: 3.5 characters, fixed at 1.75 ms above 19200 baud.
    public var t35: Duration { baud > 19200 ? .microseconds(1750) : characterTime * 3.5 }
}
