import Foundation
import Gateway
import Logging
import Modbus
import NIOCore
import NIOPosix
import Serial
import Synchronization
import TestSupport
import Testing

/// The gateway's data path, real from end to end: Modbus/TCP clients → our
/// TCP server → Router → Bus → a VirtualBus paced at 19200 baud → RTU slaves.
@Suite(.ownThreads) struct GatewayTests {
    private let settings = SerialSettings(baud: 19200)
    private let group = MultiThreadedEventLoopGroup.singleton

    /// A line with slaves 1 and 2 (holding registers 10, 11, 12 and 20, 21, 22),
    /// TCP units 1-3 routed to slaves 1-3 (nobody answers as 3), and a server.
    private struct Rig {
        /// Held for the test's length: the line's ptys close with it.
        let line: VirtualBus
        let bus: Bus
        let slaves: [SlaveThread]
        let server: ModbusTCPServer

        func stop() async throws {
            try await server.close()
            await bus.close()
            slaves.forEach { $0.stop() }
        }
    }

    private func rig(policy: SlaveHealth.Policy = .init(maximumTimeout: .milliseconds(300))) async throws -> Rig {
        let line = try VirtualBus(ends: 3, settings: settings)
        let slaves = [
            SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice([10, 11, 12])])),
            SlaveThread(path: line.paths[2], settings: settings, units: UnitMap(devices: [2: holdingDevice([20, 21, 22])])),
        ]
        let bus = Bus(name: "test", port: try SerialPort(path: line.paths[0], settings: settings),
                      options: Bus.Options(health: policy), logger: Logger(label: "test.bus"))
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: Router(routes: Router.range(1...3, to: bus)),
                                                     group: group)
        return Rig(line: line, bus: bus, slaves: slaves, server: server)
    }

    @Test func pymodbusAndMbpollReadAndWriteThroughTheGateway() async throws {
        let rig = try await rig()
        let port = rig.server.port
        let script = """
            import sys
            from pymodbus.client import ModbusTcpClient
            client = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]), timeout=3)
            client.connect()
            print(client.read_holding_registers(0, count=3, device_id=2).registers)
            client.write_register(1, 99, device_id=1)
            print(client.read_holding_registers(0, count=3, device_id=1).registers)
            reply = client.read_holding_registers(0, count=1, device_id=9)
            print("unit 9:", reply.exception_code)
            client.close()
            """
        let pymodbus = try Peers.run(Peers.python(), ["-c", script, "\(port)"])
        #expect(pymodbus.text == "[20, 21, 22]\n[10, 99, 12]\nunit 9: 10\n", "\(pymodbus.text) \(pymodbus.stderr)")
        let mbpoll = try Peers.run(Peers.program("mbpoll"), ["-a", "2", "-r", "2", "-c", "2", "-1", "-p", "\(port)", "127.0.0.1"])
        #expect(mbpoll.text.contains("[2]: \t21") && mbpoll.text.contains("[3]: \t22"), "\(mbpoll.text) \(mbpoll.stderr)")
        try await rig.stop()
    }

    /// pymodbus at both ends, and mbpoll: TCP clients through the gateway to
    /// pymodbus's RTU slave on a paced pty bus (8N1: pyserial cannot set
    /// parity on a pty).
    @Test func pymodbusAndMbpollThroughTheGatewayToAPymodbusSlave() async throws {
        let plain = SerialSettings(baud: 19200, parity: .none)
        let line = try VirtualBus(ends: 2, settings: plain)
        let script = Peers.packageRoot.appendingPathComponent("Tests/ModbusTests/Peers/pymodbus_server.py").path
        let slave = try PeerProcess(Peers.python(), [script, "rtu", line.paths[1], "19200"])
        _ = try slave.waitForLine(startingWith: "ready ")
        let bus = Bus(name: "pymodbus", port: try SerialPort(path: line.paths[0], settings: plain), logger: Logger(label: "test.bus"))
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: Router(routes: Router.range(11...11, offset: 10, to: bus)),
                                                     group: group)
        let client = """
            import sys
            from pymodbus.client import ModbusTcpClient
            client = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]), timeout=5)
            client.connect()
            client.write_registers(3, [33, 44], device_id=11)
            print(client.read_holding_registers(2, count=3, device_id=11).registers)
            client.write_coil(1, True, device_id=11)
            print(client.read_coils(0, count=3, device_id=11).bits[:3])
            print(client.read_input_registers(0, count=2, device_id=11).registers)
            print(client.read_holding_registers(500, count=1, device_id=11).exception_code)
            client.close()
            """
        let output = try Peers.run(Peers.python(), ["-c", client, "\(server.port)"])
        #expect(output.text == "[2, 33, 44]\n[False, True, False]\n[1000, 1001]\n2\n", "\(output.text) \(output.stderr)")
        let mbpoll = try Peers.run(Peers.program("mbpoll"), ["-a", "11", "-r", "3", "-c", "3", "-1", "-p", "\(server.port)", "127.0.0.1"])
        #expect(mbpoll.text.contains("[3]: \t2") && mbpoll.text.contains("[4]: \t33") && mbpoll.text.contains("[5]: \t44"),
                "mbpoll through the gateway too: \(mbpoll.text) \(mbpoll.stderr)")
        try await server.close()
        await bus.close()
        slave.stop()
    }

    /// The wire, as the bus's carrier saw it: before every request that
    /// follows a reply, the master left the line silent for at least t3.5 —
    /// four requests always queued, so that it is never idle for want of one.
    @Test func theMasterLeavesT35OfSilenceBeforeEachRequest() async throws {
        let rig = try await rig()
        _ = rig.line.takeSilences()
        let read = Request.readHoldingRegisters(address: 0, count: 3).pdu
        let replies = await withTaskGroup(of: [[UInt8]?].self) { group in
            for client in 0..<4 {
                group.addTask {
                    var replies: [[UInt8]?] = []
                    for _ in 0..<10 { replies.append(await rig.bus.request(read, to: UInt8(1 + client % 2), priority: .forwarded)) }
                    return replies
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(replies.count == 40 && replies.allSatisfy { $0?.first == 0x03 })
        let beforeRequests = rig.line.takeSilences().filter { $0.before == 0 && $0.after != 0 }
        #expect(beforeRequests.count >= 39, "\(beforeRequests.count) requests after a reply")
        let short = beforeRequests.filter { $0.idle < settings.t35 }
        #expect(short.isEmpty, "silences under t3.5 (\(settings.t35)): \(short.map(\.idle))")
        try await rig.stop()
    }

    @Test func aDeadSlaveDoesNotSlowTheOthers() async throws {
        let rig = try await rig(policy: .init(maximumTimeout: .milliseconds(300), failuresToOpen: 2, backoff: .seconds(30)))
        // Another client keeps four requests for the dead unit 3 waiting on
        // the line throughout, each sent again as soon as it is answered (on
        // the event loop, so that it never waits for a thread of the pool).
        let flood = Flood(bus: rig.bus, loop: group.next())
        for _ in 0..<4 { flood.keepGoing() }
        // The live client is timed on a blocking socket, which the kernel
        // wakes: an await would time the test's wait for a thread as well.
        let reader = try RawConnection(port: rig.server.port)
        var latencies: [Duration] = []
        for transaction in 0..<20 {
            let start = ContinuousClock.now
            reader.send([0, UInt8(transaction), 0, 0, 0, 6, 1, 3, 0, 0, 0, 3])
            #expect(reader.receive(count: 15) == [0, UInt8(transaction), 0, 0, 0, 9, 1, 3, 6, 0, 10, 0, 11, 0, 12])
            latencies.append(ContinuousClock.now - start)
        }
        let deadAnswers = flood.stop()
        #expect(deadAnswers.count > 20 && deadAnswers.allSatisfy { $0 == [0x83, 0x0B] }, "\(deadAnswers.count) answers")
        #expect(rig.bus.counters.timeouts == 2 && rig.bus.counters.failedFast > 0, "\(rig.bus.counters)")
        // Once the breaker is open a read of 3 registers at 19200 baud takes
        // about 10 ms on the wire; the bound leaves room for a loaded machine.
        let settled = latencies.dropFirst(5)
        #expect(settled.allSatisfy { $0 < .milliseconds(150) }, "\(latencies)")
        try await rig.stop()
    }

    @Test func aFullLineAnswersBusyAndAGoneClientsRequestsAreDropped() async throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let bus = Bus(name: "small", port: try SerialPort(path: line.paths[0], settings: settings),
                      options: Bus.Options(health: .init(maximumTimeout: .seconds(1), failuresToOpen: 100), queueCapacity: 2),
                      logger: Logger(label: "test.bus"))
        let loop = group.next()
        let gone = ModbusConnection()
        let read: [UInt8] = [3, 0, 0, 0, 1]
        // Nobody answers as slave 5: the first request holds the line for a second.
        let first = bus.submit(read, to: 5, priority: .forwarded, on: loop)
        // Without an await from here to the client's leaving, so that all of
        // it happens while the line holds the first request, however busy
        // the machine: an await could resume after that second is over.
        let taken = ContinuousClock.now + .seconds(10)
        while bus.queueDepth > 0 && ContinuousClock.now < taken { usleep(1000) }
        let queued = [bus.submit(read, to: 5, priority: .forwarded, from: gone, on: loop), bus.submit(read, to: 5, priority: .poll, on: loop)]
        let overflow = bus.submit(read, to: 5, priority: .forwarded, on: loop)
        gone.close()
        #expect(try await overflow.get() == [0x83, 0x06], "a full queue answers server busy")
        #expect(try await first.get() == [0x83, 0x0B])
        #expect(try await queued[0].get() == nil, "its client left: dropped, never sent")
        #expect(try await queued[1].get() == [0x83, 0x0B])
        #expect(bus.counters.droppedGone == 1 && bus.counters.refusedFull == 1 && bus.counters.timeouts == 2, "\(bus.counters)")
        await bus.close()
        #expect(try await bus.submit(read, to: 5, priority: .write, on: loop).get() == [0x83, 0x0A], "a closed line is no path")
    }

    @Test func twoHundredClientsAtOnceAllGetTheirAnswers() async throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(0..<200))]))
        // Generous timeouts: the slave is a thread of this loaded test process, and timing is not what this tests.
        let bus = Bus(name: "busy", port: try SerialPort(path: line.paths[0], settings: settings),
                      options: Bus.Options(health: .init(minimumTimeout: .seconds(2), maximumTimeout: .seconds(3)), queueCapacity: 256),
                      logger: Logger(label: "test.bus"))
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: Router(routes: Router.range(1...1, to: bus)), group: group)
        let answers = try await withThrowingTaskGroup(of: Bool.self) { tasks in
            for index in 0..<200 {
                tasks.addTask {
                    let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: server.port, group: group, timeout: .seconds(30))
                    defer { Task { await client.close() } }
                    return try await client.send(.readHoldingRegisters(address: UInt16(index), count: 1)) == .registers([UInt16(index)])
                }
            }
            return try await tasks.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(answers == 200 && bus.counters.transactions == 200, "\(bus.counters)")
        try await server.close()
        await bus.close()
        slave.stop()
    }

    @Test func noiseOnTheLineCostsRetriesNotAnswers() async throws {
        let noise = LineNoise(garbage: 0.02, bitFlip: 0.005, seed: 7)
        let line = try VirtualBus(ends: 2, settings: settings, noise: noise)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(0..<20))]))
        let bus = Bus(name: "noisy", port: try SerialPort(path: line.paths[0], settings: settings),
                      // A timeout long enough for a slave thread slowed by the loaded test process: a reply
                      // later than the timeout is taken for the next request's, as on any RTU line (no
                      // transaction ids), and timing is not what this tests.
                      options: Bus.Options(health: .init(maximumTimeout: .seconds(1), failuresToOpen: 1000), retries: 3),
                      logger: Logger(label: "test.bus"))
        var right = 0
        for index in 0..<40 {
            let reply = await bus.request(Request.readHoldingRegisters(address: UInt16(index % 10), count: 10).pdu, to: 1, priority: .forwarded)
            let expected = Response.registers((0..<10).map { UInt16(index % 10 + $0) }).pdu(for: .readHoldingRegisters(address: 0, count: 10))
            if reply == expected { right += 1 } else { #expect(reply == [0x83, 0x0B], "a wrong answer is never passed on: \(reply ?? [])") }
        }
        #expect(right >= 36, "noise costs retries: \(right) of 40 right, \(line.statistics)")
        #expect(line.statistics.garbage > 0 && line.statistics.flipped > 0, "the line was noisy: \(line.statistics)")
        await bus.close()
        slave.stop()
    }

    @Test func unitZeroIsBroadcastOnEveryLineWithNoReply() async throws {
        let (first, second) = (try VirtualBus(ends: 2, settings: settings), try VirtualBus(ends: 2, settings: settings))
        let devices = [holdingDevice([0]), holdingDevice([0])]
        let slaves = [SlaveThread(path: first.paths[1], settings: settings, units: UnitMap(devices: [1: devices[0]])),
                      SlaveThread(path: second.paths[1], settings: settings, units: UnitMap(devices: [1: devices[1]]))]
        let buses = [Bus(name: "a", port: try SerialPort(path: first.paths[0], settings: settings), logger: Logger(label: "a")),
                     Bus(name: "b", port: try SerialPort(path: second.paths[0], settings: settings), logger: Logger(label: "b"))]
        let routes = Router.range(1...1, to: buses[0]).merging(Router.range(101...101, offset: 100, to: buses[1])) { $1 }
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: Router(routes: routes), group: group)
        let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: server.port, group: group, timeout: .milliseconds(500))
        let silence = await #expect(throws: ModbusError.self) { try await client.send(.writeSingleRegister(address: 0, value: 321), unit: 0) }
        #expect(silence?.code == .timeout, "a broadcast gets no reply")
        // The reads on a client that waits longer: a loaded machine can slow the slave threads past 500 ms.
        let reader = try await ModbusTCPClient.connect(host: "127.0.0.1", port: server.port, group: group, timeout: .seconds(10))
        #expect(try await reader.send(.readHoldingRegisters(address: 0, count: 1), unit: 1) == .registers([321]))
        #expect(try await reader.send(.readHoldingRegisters(address: 0, count: 1), unit: 101) == .registers([321]))
        await reader.close()
        await client.close()
        try await server.close()
        for bus in buses { await bus.close() }
        slaves.forEach { $0.stop() }
    }

    /// Agent mode: a read of values the poller read recently is answered from
    /// its cache; anything else, or anything older, goes to the line.
    @Test func agentModeAnswersFreshReadsFromThePollCache() async throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let device = holdingDevice([1, 2, 3, 4])
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: device]))
        // One poll in a minute: a generous timeout, so that a machine loaded by
        // the other tests cannot make that one poll fail.
        let bus = Bus(name: "agent", port: try SerialPort(path: line.paths[0], settings: settings),
                      options: Bus.Options(health: .init(maximumTimeout: .seconds(10))), logger: Logger(label: "test.bus"))
        let poller = Poller(bus: bus, slave: 1, period: .seconds(60))
        poller.poll((40001...40003).map { ModbusAddress($0)! })
        let deadline = ContinuousClock.now + .seconds(30)
        while poller.read(ModbusAddress(40003)!) == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        // Unit 1 takes anything polled in the last two minutes; unit 2, the
        // same slave, only what is a millisecond old: in effect, nothing.
        let routes = [UInt8(1): Router.Route(bus: bus, slave: 1, poller: poller, agentAge: .seconds(120)),
                      UInt8(2): Router.Route(bus: bus, slave: 1, poller: poller, agentAge: .milliseconds(1))]
        let server = try await ModbusTCPServer.start(host: "127.0.0.1", port: 0, serving: Router(routes: routes), group: group)
        let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: server.port, group: group, timeout: .seconds(5))
        device.store.define(.holdingRegisters, at: 0, values: [10, 20, 30, 40])
        let before = bus.counters.transactions
        #expect(try await client.send(.readHoldingRegisters(address: 0, count: 3)) == .registers([1, 2, 3]), "from the cache")
        #expect(bus.counters.transactions == before, "the line was not used")
        #expect(try await client.send(.readHoldingRegisters(address: 0, count: 4)) == .registers([10, 20, 30, 40]), "40004 is not polled: forwarded")
        #expect(try await client.send(.readHoldingRegisters(address: 0, count: 3), unit: 2) == .registers([10, 20, 30]), "too old: forwarded")
        await client.close()
        poller.stop()
        try await server.close()
        await bus.close()
        slave.stop()
    }

    /// The service built from a configuration file polls what [[poll]] names
    /// and answers from the cache when the poll asks for agent mode.
    @Test func theServiceWiresPollsAndAgentModeFromTheConfiguration() async throws {
        let line = try VirtualBus(ends: 2, settings: settings)
        let device = holdingDevice([7, 8])
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [9: device]))
        let configuration = try Configuration(toml: """
            [[line]]
            name = "l"
            adapter = "\(line.paths[0])"
            timeout_max_ms = 10000
            [[route]]
            units = "9"
            line = "l"
            [[poll]]
            line = "l"
            slave = 9
            addresses = ["40001-40002"]
            period_s = 60
            agent_age_s = 120
            [[listener]]
            bind = "127.0.0.1:0"
            """, file: "wired.toml")
        let service = try await GatewayService.start(configuration, group: group, logger: Logger(label: "test.gateway"))
        let poller = try #require(service.pollers.first)
        let deadline = ContinuousClock.now + .seconds(30)
        while poller.read(ModbusAddress(40002)!) == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        device.store.define(.holdingRegisters, at: 0, values: [70, 80])
        let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: service.servers[0].port, group: group, timeout: .seconds(5))
        #expect(try await client.send(.readHoldingRegisters(address: 0, count: 2), unit: 9) == .registers([7, 8]), "answered from the poll cache")
        #expect(try await client.send(.readHoldingRegisters(address: 1, count: 1), unit: 9) == .registers([8]))
        await client.close()
        await service.stop()
        slave.stop()
    }

    /// A function the gateway does not know (0x41, user-defined) goes to the
    /// line as it is, and the slave's reply, ended by silence, comes back,
    /// even when a gap cuts it in two.
    @Test func anUnknownFunctionPassesThroughToTheLine() async throws {
        let line = try VirtualBus(ends: 3, settings: settings)
        // A device with a function of its own: it answers 0x41 with three bytes.
        let (path, settings) = (line.paths[1], settings)
        let answered = DispatchSemaphore(value: 0)
        let request = RTUFrame.encode(unit: 1, pdu: [0x41, 1, 2, 3])
        let opened = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { answered.signal() }
            let device = try? SerialPort(path: path, settings: settings)
            opened.signal()
            guard let device else { return }
            var heard: [UInt8] = []
            while heard.count < request.count, let bytes = try? device.read(limit: 64, deadline: .now + .seconds(10)), !bytes.isEmpty {
                heard += bytes
            }
            guard heard == request else { return }
            // The reply cut by a 20 ms gap, far over t3.5: silence ends the
            // first part, and the rest must still make it one reply.
            let reply = RTUFrame.encode(unit: 1, pdu: [0x41, 0xAA, 0xBB, 0xCC])
            try? device.write(Array(reply[..<3]))
            usleep(20_000)
            try? device.write(Array(reply[3...]))
        }
        _ = opened.wait(timeout: .now() + 10)
        // And one of ours, which answers a function it does not know with exception 1.
        let ours = SlaveThread(path: line.paths[2], settings: settings, units: UnitMap(devices: [2: holdingDevice([1])]))
        let bus = Bus(name: "through", port: try SerialPort(path: line.paths[0], settings: settings),
                      options: Bus.Options(health: .init(maximumTimeout: .seconds(1))), logger: Logger(label: "test.bus"))
        #expect(await bus.request([0x41, 1, 2, 3], to: 1, priority: .forwarded) == [0x41, 0xAA, 0xBB, 0xCC])
        _ = answered.wait(timeout: .now() + 10)
        #expect(await bus.request([0x41, 9], to: 2, priority: .forwarded) == [0xC1, 0x01], "the slave's own exception, through the line")
        #expect(await bus.request([0x41, 9], to: 7, priority: .forwarded) == [0xC1, 0x0B], "nobody there: it timed out on the line")
        #expect(bus.counters.transactions == 3 && bus.counters.timeouts == 1, "\(bus.counters)")
        #expect(await bus.request([3, 0, 0], to: 2, priority: .forwarded) == [0x83, 0x03], "a known function, malformed: refused here")
        #expect(bus.counters.transactions == 3)
        await bus.close()
        ours.stop()
    }

    /// An adapter unplugged and plugged back (a socat pair killed, its links
    /// gone, then started again): the line goes down, answers 0x0A, and comes
    /// back by itself.
    @Test func anUnpluggedLineComesBackByItself() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-plug-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (gateway, device) = (directory.appendingPathComponent("gateway").path, directory.appendingPathComponent("device").path)
        let plain = SerialSettings(baud: 19200, parity: .none)
        func plugIn() throws -> (PeerProcess, SlaveThread) {
            let socat = try PeerProcess(Peers.program("socat"), ["-d", "-d", "pty,raw,echo=0,link=\(gateway)", "pty,raw,echo=0,link=\(device)"])
            try socat.waitForError(containing: "starting data transfer loop")
            return (socat, SlaveThread(path: device, settings: plain, units: UnitMap(devices: [1: holdingDevice([5, 6])])))
        }
        func unplug(_ socat: PeerProcess, _ slave: SlaveThread) {
            socat.stop(signal: SIGKILL)
            slave.stop()
            // A killed socat leaves its links behind; an unplugged adapter's node is gone.
            try? FileManager.default.removeItem(atPath: gateway)
            try? FileManager.default.removeItem(atPath: device)
        }
        var (socat, slave) = try plugIn()
        let bus = Bus(name: "usb", open: { try SerialPort(path: gateway, settings: plain) },
                      options: Bus.Options(health: .init(maximumTimeout: .milliseconds(300)), reopenInterval: .milliseconds(50)),
                      logger: Logger(label: "test.bus"))
        let read: [UInt8] = [3, 0, 0, 0, 2]
        try await waitUntil { bus.isUp }
        #expect(await bus.request(read, to: 1, priority: .forwarded) == [3, 4, 0, 5, 0, 6])

        unplug(socat, slave)
        #expect(await bus.request(read, to: 1, priority: .forwarded) == [0x83, 0x0A], "the line found itself unplugged")
        // Down once its one attempt to open the adapter again has failed (at most a reopen interval later).
        try await waitUntil { !bus.isUp }
        #expect(await bus.request(read, to: 1, priority: .forwarded) == [0x83, 0x0A], "down: no path")

        (socat, slave) = try plugIn()
        try await waitUntil { bus.isUp }
        #expect(await bus.request(read, to: 1, priority: .forwarded) == [3, 4, 0, 5, 0, 6], "back, with no restart")
        unplug(socat, slave)
        await bus.close()
    }

    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }
}

/// Requests for unit 3 (nobody) sent to a line over and over, each as soon as
/// the last is answered, from a client of its own.
final class Flood: Sendable {
    private let bus: Bus
    private let loop: any EventLoop
    private let client = ModbusConnection()
    private let state = Mutex<(going: Bool, answers: [[UInt8]])>((true, []))

    init(bus: Bus, loop: any EventLoop) {
        self.bus = bus
        self.loop = loop
    }

    func keepGoing() {
        guard state.withLock({ $0.going }) else { return }
        bus.submit([3, 0, 0, 0, 1], to: 3, priority: .forwarded, from: client, on: loop).whenSuccess { reply in
            self.state.withLock { $0.answers.append(reply ?? []) }
            self.keepGoing()
        }
    }

    /// Stops sending; the answers so far.
    func stop() -> [[UInt8]] {
        state.withLock { state in
            state.going = false
            return state.answers
        }
    }
}
