import CSerialShim

/// Kernel RS485 direction control (struct serial_rs485), for UARTs whose
/// driver switches the transceiver with RTS. USB RS485 dongles switch in
/// hardware and their drivers answer ENOTTY, reported as `.unsupported`.
public struct RS485Settings: Sendable, Hashable {
    /// Whether the kernel drives RTS for the transceiver at all.
    public var enabled: Bool
    /// RTS level while sending (true: high).
    public var rtsOnSend: Bool
    /// RTS level after sending.
    public var rtsAfterSend: Bool
    /// Keep receiving while sending (to see one's own echo).
    public var receiveDuringTransmit: Bool
    /// Milliseconds between raising RTS and the first bit; the kernel clamps to 100.
    public var delayBeforeSend: Int
    /// Milliseconds between the last bit and dropping RTS; the kernel clamps to 100.
    public var delayAfterSend: Int

    /// Settings for a half-duplex transceiver that is enabled by RTS high while
    /// sending, with no delays.
    public init(enabled: Bool = true, rtsOnSend: Bool = true, rtsAfterSend: Bool = false,
                receiveDuringTransmit: Bool = false, delayBeforeSend: Int = 0, delayAfterSend: Int = 0) {
        self.enabled = enabled
        self.rtsOnSend = rtsOnSend
        self.rtsAfterSend = rtsAfterSend
        self.receiveDuringTransmit = receiveDuringTransmit
        self.delayBeforeSend = delayBeforeSend
        self.delayAfterSend = delayAfterSend
    }

    init(_ kernel: fgw_rs485) {
        self.init(enabled: kernel.enabled != 0, rtsOnSend: kernel.rts_on_send != 0, rtsAfterSend: kernel.rts_after_send != 0,
                  receiveDuringTransmit: kernel.receive_during_transmit != 0,
                  delayBeforeSend: Int(kernel.delay_before_send_ms), delayAfterSend: Int(kernel.delay_after_send_ms))
    }

    var kernel: fgw_rs485 {
        fgw_rs485(enabled: enabled ? 1 : 0, rts_on_send: rtsOnSend ? 1 : 0, rts_after_send: rtsAfterSend ? 1 : 0,
                  receive_during_transmit: receiveDuringTransmit ? 1 : 0,
                  delay_before_send_ms: UInt32(clamping: delayBeforeSend), delay_after_send_ms: UInt32(clamping: delayAfterSend))
    }
}
