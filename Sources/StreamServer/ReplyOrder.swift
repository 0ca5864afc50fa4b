import NIOCore

/// One connection's replies in the order its requests came, however long
/// each takes: a reply that must wait (for a serial line) holds back those
/// after it until it is ready. Replies known at once skip it while nothing
/// waits. `Token` is what a reply needs from its request to be sent (a
/// Modbus transaction id and unit; nothing for EtherNet/IP).
public struct ReplyOrder<Token> {
    @usableFromInline struct Slot {
        @usableFromInline let token: Token
        @usableFromInline var done = false
        @usableFromInline var reply: [UInt8]?

        @inlinable init(token: Token) { self.token = token }
    }

    @usableFromInline var queue = CircularBuffer<Slot>()
    /// The sequence number of the queue's first slot.
    @usableFromInline var first = 0
    @usableFromInline var next = 0

    @inlinable public init() {}

    /// Nothing waits: a reply known now may go straight out.
    @inlinable public var isEmpty: Bool { queue.isEmpty }

    /// A place for a request's reply; its sequence number.
    @inlinable public mutating func enqueue(_ token: Token) -> Int {
        queue.append(Slot(token: token))
        next += 1
        return next - 1
    }

    /// Fills place `sequence` (nil: no reply, a broadcast or a silent fault)
    /// and returns the replies now free to go, in order.
    @inlinable public mutating func complete(_ sequence: Int, reply: [UInt8]?) -> [(token: Token, reply: [UInt8])] {
        guard sequence >= first, sequence - first < queue.count else { return [] }
        queue[offset: sequence - first].done = true
        queue[offset: sequence - first].reply = reply
        var ready: [(token: Token, reply: [UInt8])] = []
        while let head = queue.first, head.done {
            queue.removeFirst()
            first += 1
            if let reply = head.reply { ready.append((head.token, reply)) }
        }
        return ready
    }
}
