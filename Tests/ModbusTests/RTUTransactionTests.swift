import Gateway
import Serial
import TestSupport
import Testing
@testable import Modbus

/// Our RTU master and slaves on a VirtualBus paced at 19200 baud.
@Suite(.ownThreads) struct RTUTransactionTests {
    private let settings = SerialSettings(baud: 19200)
    /// How long a master waits for a slave that does answer: long, because a
    /// fresh-clone CI run once left this suite's slaves without the CPU for
    /// 500 ms (the whole suite stalled for a minute under the first test
    /// process's load); what these tests check is what comes back, not when.
    private static let replyWait = Duration.seconds(5)

    @Test func readWriteAndExceptions() throws {
        let bus = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(0..<10))]))
        defer { slave.stop() }
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: Self.replyWait)
        #expect(try master.send(.readHoldingRegisters(address: 2, count: 3), unit: 1) == .registers([2, 3, 4]))
        #expect(try master.send(.writeMultipleRegisters(address: 0, values: [7, 8]), unit: 1) == .writeMultiple(address: 0, count: 2))
        #expect(try master.send(.readHoldingRegisters(address: 0, count: 2), unit: 1) == .registers([7, 8]))
        #expect(try master.send(.readHoldingRegisters(address: 9, count: 2), unit: 1) == .exception(.init(function: 3, code: .illegalDataAddress)))
        #expect(master.counters.frames == 4 && master.counters.noiseBytes == 0)
    }

    @Test func eachSlaveOnAMultiDropBusAnswersOnlyForItself() throws {
        let bus = try VirtualBus(ends: 3, settings: settings)
        let one = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([111])]))
        let two = SlaveThread(path: bus.paths[2], settings: settings, units: UnitMap(devices: [2: holdingDevice([222])]))
        defer { one.stop(); two.stop() }
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: Self.replyWait)
        for _ in 0..<3 {
            #expect(try master.send(.readHoldingRegisters(address: 0, count: 1), unit: 2) == .registers([222]))
            #expect(try master.send(.readHoldingRegisters(address: 0, count: 1), unit: 1) == .registers([111]))
        }
    }

    @Test func aBroadcastIsCarriedOutAndNeverAnswered() throws {
        let bus = try VirtualBus(ends: 2, settings: settings)
        let device = holdingDevice([0])
        let slave = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: device]))
        defer { slave.stop() }
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: Self.replyWait,
                               turnaround: .milliseconds(50))
        #expect(try master.send(.writeSingleRegister(address: 0, value: 77), unit: 0) == nil)
        #expect(device.store.value(at: ModbusAddress(40001)!) == 77)
        #expect(try master.send(.readHoldingRegisters(address: 0, count: 1), unit: 1) == .registers([77]))
        #expect(master.counters.noiseBytes == 0, "no reply came to the broadcast")
    }

    @Test func anInterFrameDelayKeepsLongerSilencesThanTheSpec() throws {
        let bus = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([9])]))
        defer { slave.stop() }
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: Self.replyWait)
        master.interFrameDelay = .milliseconds(60)
        let start = ContinuousClock.now
        for _ in 0..<4 { #expect(try master.send(.readHoldingRegisters(address: 0, count: 1), unit: 1) == .registers([9])) }
        #expect(ContinuousClock.now - start >= .milliseconds(4 * 60), "each request waited 60 ms of silence")
    }

    @Test func aDeadSlaveTimesOutAtItsDeadline() throws {
        let bus = try VirtualBus(ends: 2, settings: settings)
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: .milliseconds(200), retries: 1)
        let start = ContinuousClock.now
        let error = #expect(throws: ModbusError.self) { try master.send(.readHoldingRegisters(address: 0, count: 1), unit: 5) }
        #expect(error?.code == .timeout)
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(400) && elapsed < .milliseconds(1500), "two attempts of 200 ms: \(elapsed)")
    }

    @Test func anEchoingLineStillGetsTheReply() throws {
        let bus = try VirtualBus(ends: 2, settings: settings, localEcho: true)
        let slave = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([5, 6])]))
        defer { slave.stop() }
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: Self.replyWait)
        #expect(try master.send(.readHoldingRegisters(address: 0, count: 2), unit: 1) == .registers([5, 6]))
        #expect(try master.send(.writeSingleRegister(address: 1, value: 9), unit: 1) == .writeSingleRegister(address: 1, value: 9))
        #expect(try master.send(.readHoldingRegisters(address: 0, count: 2), unit: 1) == .registers([5, 9]))
        #expect(master.counters.echoes == 3)
    }

    /// A burst inside a frame ruins that frame (its CRC fails) and costs a retry; nothing worse.
    @Test func garbageOnTheLineCostsNothingButNoise() throws {
        let bus = try VirtualBus(ends: 2, settings: settings, noise: LineNoise(garbage: 0.01, seed: 11))
        let slave = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(0..<20))]))
        defer { slave.stop() }
        let master = RTUMaster(port: try SerialPort(path: bus.paths[0], settings: settings), slaveTimeout: .milliseconds(300), retries: 5)
        for index in 0..<20 {
            #expect(try master.send(.readHoldingRegisters(address: UInt16(index), count: 1), unit: 1) == .registers([UInt16(index)]))
        }
        #expect(bus.statistics.garbage > 0)
    }

    @Test func anUnknownFunctionIsExceptionOneEndedBySilence() throws {
        let bus = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: bus.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([0])]))
        defer { slave.stop() }
        let port = try SerialPort(path: bus.paths[0], settings: settings)
        try port.write(RTUFrame.encode(unit: 1, pdu: [0x44, 0x00, 0x01]))
        var reply: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(1)
        while reply.count < 5 && ContinuousClock.now < deadline { reply += try port.read(deadline: deadline) }
        #expect(reply == RTUFrame.encode(unit: 1, pdu: [0xC4, 0x01]))
    }
}
