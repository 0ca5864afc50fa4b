import NIOCore

/// Where a tag's bytes come from and go to when they are not held in memory:
/// the gateway maps a device's registers onto a structure tag, read from the
/// poller's cache and written through the serial line.
public protocol TagSource: Sendable {
    /// All the tag's bytes now, as one snapshot; a CIP status when they
    /// cannot be had (values too old, device offline).
    func snapshot() throws(CIPStatus) -> [UInt8]
    /// Writes `bytes` from byte `offset`: whole members only. The future
    /// fails with a `CIPStatus` (the device's exception, translated).
    func store(_ bytes: [UInt8], at offset: Int, on eventLoop: any EventLoop) -> EventLoopFuture<Void>
}

/// A reply known at once, or one that waits for a device (a write through a
/// serial line). Replies known at once cost no future.
enum Answer<Value: Sendable>: Sendable {
    case now(Value)
    case later(EventLoopFuture<Value>)

    /// The reply when it comes, `transform`ed (wrapped in items, in an encapsulation).
    func map<Other: Sendable>(_ transform: @escaping @Sendable (Value) -> Other) -> Answer<Other> {
        switch self {
        case .now(let value): .now(transform(value))
        case .later(let future): .later(future.map(transform))
        }
    }
}
