import NIOCore

/// How urgent a request on a line is: writes first, then requests forwarded
/// from TCP clients, then the poller's reads.
public enum BusPriority: Int, Sendable, Hashable, CaseIterable {
    case write, forwarded, poll
}

/// The requests waiting for a line, in the order the line takes them:
/// writes in arrival order, then forwarded requests taking turns between
/// clients (so that one busy client cannot starve the others), then polls.
/// Bounded: a push beyond `capacity` is refused (the gateway answers 0x06).
struct BusQueue<Item> {
    let capacity: Int
    private var writes = CircularBuffer<Item>()
    private var polls = CircularBuffer<Item>()
    private var forwarded: [Int: CircularBuffer<Item>] = [:]
    /// Clients with forwarded requests waiting, in turn order.
    private var turns = CircularBuffer<Int>()
    private(set) var count = 0

    init(capacity: Int) { self.capacity = capacity }

    /// Queues `item`; false when the queue is full.
    mutating func push(_ item: Item, priority: BusPriority, client: Int) -> Bool {
        guard count < capacity else { return false }
        count += 1
        switch priority {
        case .write: writes.append(item)
        case .poll: polls.append(item)
        case .forwarded:
            if forwarded[client, default: []].isEmpty { turns.append(client) }
            forwarded[client, default: []].append(item)
        }
        return true
    }

    /// The next request to send.
    mutating func pop() -> Item? {
        let item = writes.popFirst() ?? popForwarded() ?? polls.popFirst()
        if item != nil { count -= 1 }
        return item
    }

    private mutating func popForwarded() -> Item? {
        guard let client = turns.popFirst() else { return nil }
        let item = forwarded[client]?.popFirst()
        if forwarded[client]?.isEmpty == false { turns.append(client) } else { forwarded[client] = nil }
        return item
    }

    /// Takes every waiting request out (a line going down answers them all).
    mutating func drain() -> [Item] {
        var items: [Item] = []
        while let item = pop() { items.append(item) }
        return items
    }
}
