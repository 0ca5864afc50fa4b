import Foundation
import Logging
import Modbus
import Serial
import TestSupport
import Testing
@testable import Gateway

@Suite(.ownThreads) struct PollPlanTests {
    private func addresses(_ numbers: [Int]) -> Set<ModbusAddress> { Set(numbers.map { ModbusAddress($0)! }) }

    @Test func nearbyAddressesShareARead() {
        let plan = PollPlan(addresses: addresses([40001, 40002, 40050, 40101, 40300]), reach: 100)
        #expect(plan.reads == [.init(table: .holdingRegisters, offset: 0, count: 50), .init(table: .holdingRegisters, offset: 100, count: 1),
                               .init(table: .holdingRegisters, offset: 299, count: 1)])
        let tight = PollPlan(addresses: addresses([40001, 40002, 40050]), reach: 10)
        #expect(tight.reads.map(\.count) == [2, 1])
    }

    @Test func readsSplitAtTheLimitsAndTablesStayApart() {
        let registers = PollPlan(addresses: addresses(Array(40001...40200)), reach: 1000)
        #expect(registers.reads.map(\.count) == [123, 77] && registers.reads[1].offset == 123)
        let coils = PollPlan(addresses: addresses(Array(1...2000)), reach: 5000)
        #expect(coils.reads.map(\.count) == [1968, 32])
        let mixed = PollPlan(addresses: addresses([1, 10001, 30001, 40001]))
        #expect(mixed.reads.map(\.table) == [.coils, .discreteInputs, .inputRegisters, .holdingRegisters])
        #expect(mixed.reads[3].request == .readHoldingRegisters(address: 0, count: 1))
    }

    @Test func loadAveragesFollowCpppo() {
        var load = LoadAverage()
        load.record(busy: .milliseconds(250), period: .seconds(1))
        // One step of L ← L + (1/(m·60/rate))·(load − L) from 0, with load 0.25 and rate 1 s.
        #expect(abs(load.one - 0.25 / 60) < 1e-12 && abs(load.five - 0.25 / 300) < 1e-12 && abs(load.fifteen - 0.25 / 900) < 1e-12)
        for _ in 0..<3000 { load.record(busy: .milliseconds(250), period: .seconds(1)) }
        #expect(abs(load.one - 0.25) < 1e-6 && load.five > 0.24 && load.fifteen < load.five)
    }
}

/// The poller against a real RTU slave on a paced pty bus.
@Suite(.ownThreads) struct PollerTests {
    private let settings = SerialSettings(baud: 19200)

    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    @Test func pollsReadsWritesAndGoesOfflineWhenTheSlaveDies() async throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let device = holdingDevice([100, 101, 102, 103])
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [7: device]))
        let bus = Bus(name: "poll", port: try SerialPort(path: line.paths[0], settings: settings),
                      options: Bus.Options(health: .init(maximumTimeout: .milliseconds(200), failuresToOpen: 100)), logger: Logger(label: "test"))
        let poller = Poller(bus: bus, slave: 7, period: .milliseconds(100))
        let first = ModbusAddress(40001)!, third = ModbusAddress(40003)!
        #expect(poller.read(first) == nil, "nothing polled yet")
        poller.poll(first)
        poller.poll(third, period: .milliseconds(50))
        #expect(poller.period == .milliseconds(50), "a faster rate wins")
        poller.poll(first, period: .seconds(5))
        #expect(poller.period == .milliseconds(50), "a slower one does not")
        try await waitUntil { poller.read(third) != nil }
        #expect(poller.read(first) == 100 && poller.read(third) == 102 && poller.online)
        #expect(poller.read(ModbusAddress(40002)!) == nil, "read in the same request, but not polled")

        try await poller.write(ModbusAddress(40002)!, value: 55)
        #expect(device.store.value(at: ModbusAddress(40002)!) == 55)
        device.store.define(.holdingRegisters, at: 2, values: [999])
        try await waitUntil { poller.read(third) == 999 }
        #expect(poller.read(third) == 999)
        await #expect(throws: ModbusError.self) { try await poller.write(ModbusAddress(30001)!, value: 1) }
        #expect(poller.load.one > 0 && poller.cycles >= 2, "\(poller.load)")

        slave.stop()
        try await waitUntil { !poller.online }
        #expect(!poller.online && poller.read(first) == nil, "offline: no stale values")
        poller.stop()
        await bus.close()
    }

    /// An address the slave does not have (exception 2) costs only its own
    /// value: the slave answered, so it stays online and its other values
    /// stay (a [[poll]] and [[device]] tags of one slave share a poller).
    @Test func anAddressTheSlaveRefusesCostsOnlyItsOwnValue() async throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [3: holdingDevice([7, 8])]))
        let bus = Bus(name: "refuse", port: try SerialPort(path: line.paths[0], settings: settings),
                      options: Bus.Options(health: .init(maximumTimeout: .milliseconds(200))), logger: Logger(label: "test"))
        let poller = Poller(bus: bus, slave: 3, period: .milliseconds(50))
        poller.poll([ModbusAddress(40001)!, ModbusAddress(40500)!])
        try await waitUntil { poller.cycles >= 3 }
        #expect(poller.online && poller.read(ModbusAddress(40001)!) == 7 && poller.read(ModbusAddress(40500)!) == nil)
        poller.stop()
        await bus.close()
        slave.stop()
    }
}

/// The poller as a library, as cpppo's `poller_modbus(host, port, rate)`:
/// against `fieldgw modbus-sim` over TCP, nil until polled and while the
/// device is away, a write read back.
@Suite(.ownThreads) struct RemotePollerTests {
    @Test func aPollerOfAModbusTCPDeviceFollowsCpppo() async throws {
        let sim = try PeerProcess(Peers.fieldgw(), ["modbus-sim", "-a", "127.0.0.1:0", "40001-40010=7"])
        defer { sim.stop(signal: SIGKILL) }
        let announced = try sim.waitForLine(startingWith: "modbus-sim: Modbus/TCP on 127.0.0.1:")
        let port = try #require(Int(announced.prefix { $0.isNumber }))
        let poller = Poller(host: "127.0.0.1", port: port, unit: 1, period: .milliseconds(100))
        let first = try #require(ModbusAddress(40001)), second = try #require(ModbusAddress(40002))
        #expect(poller.read(first) == nil, "nothing until it is polled")
        poller.poll([first, second])
        let polled = ContinuousClock.now + .seconds(10)
        while poller.read(first) == nil && .now < polled { try await Task.sleep(for: .milliseconds(20)) }
        #expect(poller.read(first) == 7 && poller.read(second) == 7)
        try await poller.write(second, value: 42)
        #expect(poller.read(second) == 42, "a write is read back at once")
        let cycles = poller.cycles
        while poller.cycles < cycles + 2 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(poller.read(second) == 42, "and from the device on the next poll")

        sim.stop(signal: SIGKILL)
        let offline = ContinuousClock.now + .seconds(10)
        while poller.read(first) != nil && .now < offline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(poller.read(first) == nil && !poller.online, "nil while the device is away")
        await poller.close()
    }
}
