import Testing
@testable import Gateway

/// The per-slave timeout and circuit breaker, on a clock the test moves.
@Suite struct SlaveHealthTests {
    private let policy = SlaveHealth.Policy(minimumTimeout: .milliseconds(20), maximumTimeout: .milliseconds(500),
                                            failuresToOpen: 3, backoff: .seconds(2), maximumBackoff: .seconds(5))
    private let start = ContinuousClock.now

    @Test func theTimeoutStartsAtTheBoundAndLearnsTheSlavesPace() {
        var health = SlaveHealth(policy: policy)
        #expect(health.decide(at: start) == .send(timeout: .milliseconds(500)), "nothing learnt yet: the upper bound")
        for _ in 0..<30 { health.answered(after: .milliseconds(10)) }
        #expect(health.timeout >= .milliseconds(20) && health.timeout < .milliseconds(40), "\(health.timeout)")
        for _ in 0..<30 { health.answered(after: .seconds(2)) }
        #expect(health.timeout == .milliseconds(500), "never above the bound")
        var fast = SlaveHealth(policy: policy)
        for _ in 0..<30 { fast.answered(after: .microseconds(100)) }
        #expect(fast.timeout == .milliseconds(20), "never below the bound")
    }

    @Test func theBreakerOpensFailsFastProbesAndCloses() {
        var health = SlaveHealth(policy: policy)
        for _ in 0..<2 { health.timedOut(at: start) }
        #expect(health.decide(at: start) != .failFast, "two timeouts are not yet a dead slave")
        health.timedOut(at: start)
        #expect(health.decide(at: start + .seconds(1)) == .failFast)
        #expect(health.decide(at: start + .seconds(2)) == .send(timeout: .milliseconds(500)), "the probe, with the full timeout")
        #expect(health.decide(at: start + .seconds(2)) == .failFast, "one probe at a time")
        health.timedOut(at: start + .seconds(3))
        #expect(health.breaker == .open(until: start + .seconds(7)), "open again, for twice as long")
        #expect(health.decide(at: start + .seconds(7)) != .failFast)
        health.answered(after: .milliseconds(5))
        #expect(health.breaker == .closed && health.consecutiveTimeouts == 0)
        #expect(health.decide(at: start + .seconds(7)) != .failFast)
    }

    @Test func theBackOffStopsGrowingAtItsBound() {
        var health = SlaveHealth(policy: policy)
        var now = start
        for _ in 0..<3 { health.timedOut(at: now) }
        for _ in 0..<4 {
            guard case .open(let until) = health.breaker else { Issue.record("not open"); return }
            now = until
            #expect(health.decide(at: now) != .failFast)
            health.timedOut(at: now)
        }
        #expect(health.breaker == .open(until: now + .seconds(5)))
    }
}

@Suite struct BusQueueTests {
    @Test func writesThenForwardedThenPolls() {
        var queue = BusQueue<String>(capacity: 10)
        let pushed = [queue.push("poll", priority: .poll, client: 0), queue.push("read", priority: .forwarded, client: 1),
                      queue.push("write", priority: .write, client: 1)]
        #expect(pushed == [true, true, true])
        let order = [queue.pop(), queue.pop(), queue.pop(), queue.pop()]
        #expect(order == ["write", "read", "poll", nil] && queue.count == 0)
    }

    @Test func clientsTakeTurns() {
        var queue = BusQueue<String>(capacity: 10)
        for (item, client) in [("a0", 1), ("a1", 1), ("a2", 1), ("b0", 2), ("c0", 3), ("b1", 2)] {
            _ = queue.push(item, priority: .forwarded, client: client)
        }
        let order = (0..<6).compactMap { _ in queue.pop() }
        #expect(order == ["a0", "b0", "c0", "a1", "b1", "a2"])
    }

    @Test func aFullQueueRefusesAndADrainEmptiesIt() {
        var queue = BusQueue<Int>(capacity: 2)
        let pushed = [queue.push(1, priority: .poll, client: 0), queue.push(2, priority: .write, client: 0), queue.push(3, priority: .write, client: 0)]
        #expect(pushed == [true, true, false])
        let drained = queue.drain()
        #expect(drained == [2, 1] && queue.count == 0)
        let again = queue.push(3, priority: .forwarded, client: 4)
        #expect(again)
    }
}
