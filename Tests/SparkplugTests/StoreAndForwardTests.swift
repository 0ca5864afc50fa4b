import Foundation
import Gateway
import Modbus
import Sparkplug
import TestSupport
import Testing

/// The broker away for seconds while a register changes every 100 ms: every
/// change reaches the host once, in order, those of the outage flagged
/// historical; across a gateway restart too.
@Suite(.serialized, .ownThreads) struct StoreAndForwardTests {
    /// Waits (up to 2 s) until the poller has passed `cycles`, so that a
    /// whole poll began after a change: on a machine loaded by the whole
    /// suite a poll can come later than the next change, and a value never
    /// polled is not one the node could keep.
    static func wait(for poller: Poller?, toPass cycles: Int, unless paused: Guarded<Bool>) async {
        guard let poller else { return }
        let giveUp = ContinuousClock.now + .seconds(2)
        while poller.cycles < cycles, ContinuousClock.now < giveUp, !paused.withLock({ $0 }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test(arguments: [false, true])
    func anOutageLosesNoChange(restartDuringIt: Bool) async throws {
        let broker = try Mosquitto()
        defer { broker.stop() }
        let relay = try Relay(to: broker.port)
        defer { relay.stop() }
        let host = try SparkplugHost(port: broker.port)
        defer { host.stop() }
        try await SparkplugRig.with(brokerPort: relay.port, period: 0.05) { rig in
            _ = try await host.next("DBIRTH", device: "Pump")
            // Changes stop while the gateway restarts: what it never polled it cannot keep.
            let paused = Guarded(false)
            let counter = Task {
                for value in UInt16(1)...UInt16(150) {
                    while paused.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
                    rig.pumpStore.define(.holdingRegisters, at: 0, values: [value])
                    let poller = rig.service.pollers.first { $0.slave == 1 }
                    let cycles = poller?.cycles ?? 0
                    try? await Task.sleep(for: .milliseconds(100))
                    await Self.wait(for: poller, toPass: cycles + 2, unless: paused)
                }
            }
            try await Task.sleep(for: .seconds(2))
            relay.cut(for: .seconds(10))
            try await waitUntil(20) { (rig.status?.queued ?? 0) >= 5 }
            if restartDuringIt {
                try await Task.sleep(for: .seconds(3))
                paused.withLock { $0 = true }
                try await Task.sleep(for: .milliseconds(200))
                try await rig.restart()
                try await waitUntil { rig.service.pollers.allSatisfy { $0.cycles > 0 } }
                paused.withLock { $0 = false }
            }
            _ = await counter.value
            // Until every value since the first is in: live data does not wait for the spool's,
            // and on a loaded machine 150 can come before the last historical ones.
            var values: Set<Int> = []
            let messages = try await host.collect(timeout: 60, keepingWhatCame: true) { message in
                if message.device == "Pump", ["DDATA", "DBIRTH"].contains(message.kind), let count = message.value("Count") {
                    values.insert(Int(count))
                }
                return values.contains(150) && values.count == 150 - (values.min() ?? 1) + 1
            }
            let counts = messages.filter { $0.device == "Pump" && $0.kind == "DDATA" }.flatMap { message in
                message.metrics.filter { $0.name == "Count" }.map { (value: Int($0.value ?? -1), historical: $0.historical, at: $0.timestamp) }
            }
            let births = messages.filter { $0.kind == "DBIRTH" && $0.device == "Pump" }.compactMap { $0.value("Count").map(Int.init) }
            let seen = counts.map(\.value) + births
            // Every value from the first seen after the subscription to the last, none missing.
            let first = try #require(seen.min())
            #expect(Set(seen) == Set(first...150), "missing: \(Set(first...150).subtracting(seen).sorted())")
            // Twice only as the node documents it: sent as the connection broke, unconfirmed,
            // then sent again from the spool (historical, with its own timestamp).
            let again = Dictionary(grouping: counts, by: \.value).values.filter { $0.count > 1 }
            #expect(again.allSatisfy { copies in copies.dropFirst().allSatisfy { $0.historical && $0.at == copies[0].at } },
                    "a value came twice in DDATA, not as a re-send: \(again)")
            #expect(again.count <= 2, "only what was in flight at the cut comes twice: \(again)")
            let historical = counts.filter(\.historical).map(\.value)
            // How many depends on how fast the counter ran on a loaded machine; some there must be.
            #expect(historical.count >= 5, "the outage's changes come flagged historical (\(historical.count))")
            #expect(historical == historical.sorted(), "in order")
            #expect(rig.status?.queued == 0)
            #expect(rig.status?.dropped == 0)
        }
    }
}
