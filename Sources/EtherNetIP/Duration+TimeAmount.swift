import NIOCore

extension Duration {
    /// The same span for NIO's timers (whole nanoseconds).
    public var timeAmount: TimeAmount { .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000) }
}
