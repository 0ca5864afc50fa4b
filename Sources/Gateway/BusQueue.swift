import NIOCore

/// What a request on a line is: a client's write (ahead of its reads), a
/// client's read, or the poller's read (which takes turns as one more client).
public enum BusPriority: Int, Sendable, Hashable, CaseIterable {
    /// A client's write, a client's read, a poll.
    case write, forwarded, poll
}

/// The requests waiting for a line, in the order the line takes them.
///
/// Clients take turns, one transaction each: whatever a client sends, and
/// however many, every other client with a request waiting is served once
/// before it is served again. Within its turn a client's writes go ahead of
/// its reads. The poller takes its turn as one more client: however busy
/// clients keep the line, a poll waits at most one round of them (a soak
/// run found polls that came only when no client waited left device tags
/// stale under steady load).
///
/// Bounded: when `capacity` requests wait, a newcomer pushes out the newest
/// request of the client holding the most (that one is answered 0x06); a
/// client that itself holds the most is refused (the gateway answers 0x06).
/// So a client filling the queue is refused, and the others are not.
struct BusQueue<Item> {
    let capacity: Int
    private var clients: [Int: ClientRequests] = [:]
    /// Clients with requests waiting, in turn order; `pollerTurn` for the poller.
    private var turns = CircularBuffer<Int>()
    private static var pollerTurn: Int { Int.min }
    private var polls = CircularBuffer<Item>()
    private(set) var count = 0

    private struct ClientRequests {
        var writes = CircularBuffer<Item>()
        var reads = CircularBuffer<Item>()
        var count: Int { writes.count + reads.count }
    }

    enum Push {
        case queued
        /// Queued, and this other client's request was pushed out to make room.
        case queuedDisplacing(Item)
        case refused
    }

    init(capacity: Int) { self.capacity = capacity }

    /// Queues `item` for `client` (the poller's reads with priority `.poll`).
    mutating func push(_ item: Item, priority: BusPriority, client: Int) -> Push {
        var displaced: Item?
        if count >= capacity {
            guard let pushedOut = displaceForNewcomer(client: client, polling: priority == .poll) else { return .refused }
            displaced = pushedOut
        }
        count += 1
        switch priority {
        case .poll:
            if polls.isEmpty { turns.append(Self.pollerTurn) }
            polls.append(item)
        case .write, .forwarded:
            if clients[client] == nil { turns.append(client) }
            if priority == .write {
                clients[client, default: ClientRequests()].writes.append(item)
            } else {
                clients[client, default: ClientRequests()].reads.append(item)
            }
        }
        return displaced.map(Push.queuedDisplacing) ?? .queued
    }

    /// The next request to send.
    mutating func pop() -> Item? {
        let item = popTurn()
        if item != nil { count -= 1 }
        return item
    }

    private mutating func popTurn() -> Item? {
        guard let client = turns.popFirst() else { return nil }
        if client == Self.pollerTurn {
            let item = polls.popFirst()
            if !polls.isEmpty { turns.append(Self.pollerTurn) }
            return item
        }
        guard var requests = clients[client] else { return nil }
        let item = requests.writes.popFirst() ?? requests.reads.popFirst()
        if requests.count > 0 {
            clients[client] = requests
            turns.append(client)
        } else {
            clients[client] = nil
        }
        return item
    }

    /// Room for one more from `client`: the newest request of whoever holds
    /// more than `client` would, taken out; nil when `client` holds the most.
    /// The poller's reads count as one more holder; they give way first.
    private mutating func displaceForNewcomer(client: Int, polling: Bool) -> Item? {
        let mine = polling ? polls.count : clients[client]?.count ?? 0
        if !polling, polls.count > mine + 1 {
            count -= 1
            defer { if polls.isEmpty { turns.removeAll { $0 == Self.pollerTurn } } }
            return polls.popLast()
        }
        guard let (largest, requests) = clients.max(by: { $0.value.count < $1.value.count }),
              largest != client, requests.count > mine + 1 else { return nil }
        var taken = requests
        let item = taken.reads.popLast() ?? taken.writes.popLast()
        if taken.count > 0 {
            clients[largest] = taken
        } else {
            clients[largest] = nil
            turns.removeAll { $0 == largest }
        }
        count -= 1
        return item
    }

    /// Takes every waiting request out (a line going down answers them all).
    mutating func drain() -> [Item] {
        var items: [Item] = []
        while let item = pop() { items.append(item) }
        return items
    }
}
