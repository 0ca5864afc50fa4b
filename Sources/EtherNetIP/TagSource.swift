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
public enum Answer: Sendable {
    case now(CIPReply)
    case later(EventLoopFuture<CIPReply>)

    /// The reply when it comes, `transform`ed.
    func map(_ transform: @escaping @Sendable (CIPReply) -> CIPReply) -> Answer {
        switch self {
        case .now(let reply): .now(transform(reply))
        case .later(let future): .later(future.map(transform))
        }
    }
}
