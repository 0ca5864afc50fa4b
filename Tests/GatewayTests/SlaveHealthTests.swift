import Testing
@testable import Gateway
import TestSupport

/// The per-slave timeout and circuit breaker, on a clock the test moves.
@Suite(.ownThreads) struct SlaveHealthTests {
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

    /// A noisy line destroys some requests on the way out: the slave, which
    /// answers most, times out now and then, sometimes three times running.
    /// That alone does not open its breaker; a slave that dies still does.
    @Test func aSlaveThatAnswersMostRequestsKeepsItsBreakerClosed() {
        var health = SlaveHealth(policy: policy)
        for round in 0..<50 {
            for _ in 0..<7 { health.answered(after: .milliseconds(5)) }
            for _ in 0..<3 { health.timedOut(at: start + .seconds(round)) }
            #expect(health.breaker == .closed, "7 of 10 answered: \(health.answeredFraction)")
        }
        for _ in 0..<10 { health.answered(after: .milliseconds(5)) }
        var timeouts = 0
        while health.breaker == .closed && timeouts < 20 {
            health.timedOut(at: start)
            timeouts += 1
        }
        #expect(timeouts == 6, "a healthy slave that dies opens the breaker once most of the window went unanswered")
    }

    /// A reply the line damaged proves the slave is there: it closes a probing
    /// breaker and breaks a run of timeouts, but teaches no latency.
    @Test func aDamagedReplyIsASignOfLife() {
        var health = SlaveHealth(policy: policy)
        for _ in 0..<3 { health.timedOut(at: start) }
        #expect(health.decide(at: start + .seconds(2)) != .failFast)
        health.heard()
        #expect(health.breaker == .closed && health.consecutiveTimeouts == 0 && health.smoothedLatency == nil)
    }
}

@Suite(.ownThreads) struct BusQueueTests {
    private func queued<Item>(_ push: BusQueue<Item>.Push) -> Bool {
        if case .refused = push { return false }
        return true
    }

    @Test func aClientsWritesGoBeforeItsReadsAndThePollerTakesATurn() {
        var queue = BusQueue<String>(capacity: 10)
        let pushed = [queue.push("read", priority: .forwarded, client: 1), queue.push("poll", priority: .poll, client: 0),
                      queue.push("write", priority: .write, client: 1)]
        #expect(pushed.allSatisfy(queued))
        let order = [queue.pop(), queue.pop(), queue.pop(), queue.pop()]
        #expect(order == ["write", "poll", "read", nil] && queue.count == 0)
    }

    /// Clients that always have a request waiting do not starve the poller:
    /// it is served once each round.
    @Test func busyClientsDoNotStarveThePoller() {
        var queue = BusQueue<String>(capacity: 100)
        for index in 0..<10 {
            _ = queue.push("a\(index)", priority: .forwarded, client: 1)
            _ = queue.push("b\(index)", priority: .forwarded, client: 2)
        }
        for index in 0..<3 { _ = queue.push("p\(index)", priority: .poll, client: 0) }
        let order = (0..<9).compactMap { _ in queue.pop() }
        #expect(order == ["a0", "b0", "p0", "a1", "b1", "p1", "a2", "b2", "p2"])
    }

    @Test func clientsTakeTurns() {
        var queue = BusQueue<String>(capacity: 10)
        for (item, client) in [("a0", 1), ("a1", 1), ("a2", 1), ("b0", 2), ("c0", 3), ("b1", 2)] {
            _ = queue.push(item, priority: .forwarded, client: client)
        }
        let order = (0..<6).compactMap { _ in queue.pop() }
        #expect(order == ["a0", "b0", "c0", "a1", "b1", "a2"])
    }

    /// A client pipelining writes does not hold off another's reads: the
    /// reader is served once between each of the writer's writes.
    @Test func writesDoNotStarveAnotherClientsReads() {
        var queue = BusQueue<String>(capacity: 100)
        for index in 0..<20 { _ = queue.push("w\(index)", priority: .write, client: 1) }
        for index in 0..<3 { _ = queue.push("r\(index)", priority: .forwarded, client: 2) }
        let order = (0..<8).compactMap { _ in queue.pop() }
        #expect(order == ["w0", "r0", "w1", "r1", "w2", "r2", "w3", "w4"])
    }

    /// A full queue refuses the client that fills it, and makes room for
    /// another by pushing out the flooder's newest request.
    @Test func aFullQueueRefusesTheClientHoldingTheMost() {
        var queue = BusQueue<String>(capacity: 4)
        for index in 0..<4 { #expect(queued(queue.push("a\(index)", priority: .forwarded, client: 1))) }
        guard case .refused = queue.push("a4", priority: .forwarded, client: 1) else { Issue.record("the flooder is refused"); return }
        guard case .queuedDisplacing(let out) = queue.push("b0", priority: .forwarded, client: 2) else { Issue.record("b0 queued"); return }
        #expect(out == "a3" && queue.count == 4)
        guard case .queuedDisplacing(let again) = queue.push("c0", priority: .write, client: 3) else { Issue.record("c0 queued"); return }
        #expect(again == "a2")
        guard case .refused = queue.push("b1", priority: .forwarded, client: 2) else { Issue.record("shares are even now"); return }
        #expect((0..<5).compactMap { _ in queue.pop() } == ["a0", "b0", "c0", "a1"])
    }

    @Test func pollsGiveWayToClientsInAFullQueue() {
        var queue = BusQueue<Int>(capacity: 3)
        for index in 0..<3 { _ = queue.push(index, priority: .poll, client: 0) }
        guard case .queuedDisplacing(let out) = queue.push(9, priority: .forwarded, client: 5) else { Issue.record("queued"); return }
        #expect(out == 2)
        let drained = queue.drain()
        #expect(drained == [0, 9, 1] && queue.count == 0)
    }
}

