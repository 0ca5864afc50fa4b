import NIOCore

/// One connection's replies in the order its requests came, however long
/// each takes: a reply that must wait (for a serial line) holds back those
/// after it until it is ready. Replies known at once skip it while nothing waits.
struct ReplyOrder {
    private struct Slot {
        let transaction: UInt16
        let unit: UInt8
        var done = false
        var reply: [UInt8]?
    }

    private var queue = CircularBuffer<Slot>()
    /// The sequence number of the queue's first slot.
    private var first = 0
    private var next = 0

    /// Nothing waits: a reply known now may go straight out.
    var isEmpty: Bool { queue.isEmpty }

    /// A place for `frame`'s reply; its sequence number.
    mutating func enqueue(_ frame: MBAPFrame) -> Int {
        queue.append(Slot(transaction: frame.transaction, unit: frame.unit))
        next += 1
        return next - 1
    }

    /// Fills place `sequence` (nil: no reply, a broadcast or a silent fault)
    /// and returns the frames now free to go, in order.
    mutating func complete(_ sequence: Int, reply: [UInt8]?) -> [MBAPFrame] {
        queue[offset: sequence - first].done = true
        queue[offset: sequence - first].reply = reply
        var ready: [MBAPFrame] = []
        while let head = queue.first, head.done {
            queue.removeFirst()
            first += 1
            if let pdu = head.reply { ready.append(MBAPFrame(transaction: head.transaction, unit: head.unit, pdu: pdu)) }
        }
        return ready
    }
}
