import Gateway
import Logging
import MetricsTestKit
import Modbus
import NIOPosix
import Serial
import TestSupport
import Testing

/// A line's figures reach swift-metrics: counters, a latency timer per slave,
/// the queue depth, and the poller's load as gauges.
@Suite(.ownThreads) struct LineMetricsTests {
    @Test func aLineCountsItsTransactionsTimeoutsAndLatency() async throws {
        let metrics = TestMetrics()
        let settings = SerialSettings(baud: 19200)
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([5, 6])]))
        let bus = Bus(name: "measured", port: try SerialPort(path: line.paths[0], settings: settings),
                      options: Bus.Options(health: .init(maximumTimeout: .milliseconds(200))), logger: Logger(label: "test"), metrics: metrics)
        let read = Request.readHoldingRegisters(address: 0, count: 2).pdu
        #expect(await bus.request(read, to: 1, priority: .forwarded) == [3, 4, 0, 5, 0, 6])
        #expect(await bus.request([3, 0, 9, 0, 1], to: 1, priority: .forwarded) == [0x83, 0x02], "an exception")
        #expect(await bus.request(read, to: 8, priority: .forwarded) == [0x83, 0x0B], "nobody is slave 8")
        let poller = Poller(bus: bus, slave: 1, period: .milliseconds(50), metrics: metrics)
        poller.poll([ModbusAddress(40001)!])
        let deadline = ContinuousClock.now + .seconds(10)
        while poller.cycles < 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        poller.stop()
        await bus.close()
        slave.stop()

        let dimensions = [("line", "measured")]
        #expect(try metrics.expectCounter("fieldgw_line_transactions_total", dimensions).totalValue >= 4)
        #expect(try metrics.expectCounter("fieldgw_line_timeouts_total", dimensions).totalValue == 1)
        #expect(try metrics.expectCounter("fieldgw_line_exceptions_total", dimensions).totalValue == 1)
        let latency = try metrics.expectTimer("fieldgw_slave_latency_seconds", [("line", "measured"), ("slave", "1")])
        #expect(latency.values.count >= 3 && latency.values.allSatisfy { $0 >= 0 && $0 < 1_000_000_000 }, "\(latency.values)")
        #expect(try metrics.expectGauge("fieldgw_line_queue_depth", dimensions).lastValue == 0)
        let load = try metrics.expectGauge("fieldgw_slave_poll_load", [("line", "measured"), ("slave", "1"), ("minutes", "1")])
        #expect((load.lastValue ?? 0) > 0, "\(load.values)")
    }

    /// A line kept busy (a dead slave's timeouts, one after another) reports
    /// nearly all of each window as busy; an idle one, nothing.
    @Test func utilisationIsTheBusyFractionOfEachWindow() async throws {
        let metrics = TestMetrics()
        let settings = SerialSettings(baud: 19200)
        let line = try VirtualBus(ends: 1, settings: settings)
        var options = Bus.Options(health: .init(maximumTimeout: .milliseconds(50), failuresToOpen: 10_000))
        options.utilisationWindow = .milliseconds(300)
        let bus = Bus(name: "utilised", port: try SerialPort(path: line.paths[0], settings: settings), options: options,
                      logger: Logger(label: "test"), metrics: metrics)
        #expect(bus.utilisation == 0, "idle")
        let flood = Flood(bus: bus, loop: MultiThreadedEventLoopGroup.singleton.next())
        for _ in 0..<2 { flood.keepGoing() }
        let gauge = { try? metrics.expectGauge("fieldgw_line_utilisation", [("line", "utilised")]) }
        let deadline = ContinuousClock.now + .seconds(10)
        while (gauge()?.values.count ?? 0) < 1 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        _ = flood.stop()
        let figure = try #require(gauge()?.values.first)
        #expect(figure > 0.8 && figure <= 1, "\(figure)")
        #expect(bus.utilisation > 0.8, "\(bus.utilisation)")
        await bus.close()
    }
}
