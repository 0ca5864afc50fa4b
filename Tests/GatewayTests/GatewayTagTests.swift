import Foundation
import Gateway
import Logging
import Modbus
import NIOPosix
import Serial
import TestSupport
import Testing
import EtherNetIP

/// Serial registers as Logix tags, from end to end: pylogix and pycomm3 →
/// the gateway's EtherNet/IP server → a device's structure tag → the poller's
/// cache (reads) or the Bus (writes) → pymodbus's RTU slave on a paced pty.
@Suite(.ownThreads) struct GatewayTagTests {
    private func configuration(line path: String) throws -> Configuration {
        try Configuration(toml: """
            [status]
            enabled = false
            [enip]
            bind = "127.0.0.1:0"
            [[line]]
            name = "rtu"
            adapter = "\(path)"
            baud = 19200
            parity = "none"
            # Generous: a Python slave on a loaded machine (the whole suite runs at once) is not what this tests.
            timeout_min_ms = 1500
            timeout_max_ms = 3000
            [[device]]
            tag = "Boiler"
            line = "rtu"
            slave = 1
            period_s = 0.2
            max_age_s = 1
              [[device.member]]
              name = "Level"
              register = "40003"
              [[device.member]]
              name = "Flow"
              register = "40005"
              type = "DINT"
              [[device.member]]
              name = "Temp"
              register = "30001"
              type = "UINT"
              scale = 0.1
              [[device.member]]
              name = "Setpoint"
              register = "40011"
              scale = 0.5
              [[device.member]]
              name = "Pump"
              register = "2"
            [[device]]
            tag = "Far"
            line = "rtu"
            slave = 1
              [[device.member]]
              name = "Missing"
              register = "40201"
            """, file: "test.toml")
    }

    /// The gateway of `toml`, with no status endpoint and EtherNet/IP on a free loopback port.
    private func gateway(_ toml: String, file: String) async throws -> GatewayService {
        let configuration = try Configuration(toml: "[status]\nenabled = false\n[enip]\nbind = \"127.0.0.1:0\"\n" + toml, file: file)
        return try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
    }

    @Test func pylogixAndPycomm3ReadAndWriteAPymodbusSlavesRegistersAsTags() async throws {
        let plain = SerialSettings(baud: 19200, parity: .none)
        let line = try VirtualBus(ends: 2, settings: plain)
        let script = Peers.packageRoot.appendingPathComponent("Tests/ModbusTests/Peers/pymodbus_server.py").path
        let slave = try PeerProcess(Peers.python(), [script, "rtu", line.paths[1], "19200"])
        defer { slave.stop() }
        _ = try slave.waitForLine(startingWith: "ready ")
        let service = try await GatewayService.start(try configuration(line: line.paths[0]), group: MultiThreadedEventLoopGroup.singleton,
                                                     logger: Logger(label: "test.gateway"))
        let port = try #require(service.enipServer?.port)
        let output = try Peers.run(Peers.python(), [tagPeer("pylogix_tags.py"), "\(port)"])
        #expect(output.status == 0, "\(output.stderr)")
        let seen = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any], "\(output.text) \(output.stderr)")
        // 40003 = 2; 40005-6 = 4, 5 (high word first); 30001 = 1000 x 0.1; 40011 = 10 x 0.5; coil 2 off.
        #expect("\(seen["first"]!)" == "[2, 262149, 100.0, 5.0, 0]", "\(seen)")
        #expect("\(seen["writes"]!)" == #"["Success", "Success", "Success"]"#)
        #expect("\(seen["after"]!)" == "[21.5, 1, -2]")
        #expect(seen["read_only"] as? String == "Privilege violation", "an input register cannot be written")
        #expect(seen["never_polled"] as? String == "Resource unavailable", "a register never read is not made up")
        #expect("\(seen["tags"]!)" == #"[["Boiler", "Boiler"], ["Far", "Far"]]"#)

        // pylogix reads a tag before writing it; our client writes Far.Missing
        // (never polled: the slave has no 40201) straight away.
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton)
        var results: [TagResult] = []
        for try await result in client.perform([try TagOperation(parsing: "Far.Missing=(INT)5")]) { results.append(result) }
        #expect(results.first?.status == .pathDestinationUnknown, "the slave's exception 2, as CIP 0x05")
        await client.close()

        // The writes reached the slave: 21.5 / 0.5 = 43 in 40011, -2 as two registers in 40005-6.
        let bus = try #require(service.buses["rtu"])
        let reply = await bus.request(Request.readHoldingRegisters(address: 4, count: 7).pdu, to: 1, priority: .forwarded)
        #expect(reply == Response.registers([0xFFFF, 0xFFFE, 6, 7, 8, 9, 43]).pdu(for: .readHoldingRegisters(address: 4, count: 7)))

        // pycomm3 reads the whole device in one read: one snapshot of every member.
        let pycomm3 = """
            import sys
            from pycomm3 import LogixDriver
            with LogixDriver(f"127.0.0.1:{sys.argv[1]}") as plc:
                value = plc.read("Boiler").value
                print(sorted((name, round(v, 3) if isinstance(v, float) else v) for name, v in value.items()))
            """
        let whole = try Peers.run(Peers.python(), ["-c", pycomm3, "\(port)"])
        #expect(whole.text == "[('Flow', -2), ('Level', 2), ('Pump', True), ('Setpoint', 21.5), ('Temp', 100.0)]\n", "\(whole.text) \(whole.stderr)")

        // A whole-structure write that would change the read-only Temp is
        // refused whole; one that carries Temp as it is goes through.
        let wholeWrite = """
            import sys
            from pycomm3 import LogixDriver
            with LogixDriver(f"127.0.0.1:{sys.argv[1]}") as plc:
                value = plc.read("Boiler").value
                changed = dict(value, Temp=55.5, Level=9)
                print(plc.write(("Boiler", changed)).error)
                print(plc.write(("Boiler", dict(value, Level=7))).error)
            """
        let written = try Peers.run(Peers.python(), ["-c", wholeWrite, "\(port)"])
        // pycomm3 words CIP 0x0F (privilege violation) "Permission denied"; None is success.
        #expect(written.text == "Permission denied\nNone\n", "\(written.text) \(written.stderr)")
        let level = await bus.request(Request.readHoldingRegisters(address: 2, count: 1).pdu, to: 1, priority: .forwarded)
        #expect(level == [3, 2, 0, 7], "Level 7 from the second write; never 9 from the refused one")

        // The slave dies: within max_age_s the values are refused, never served stale.
        slave.stop()
        let stale = try Peers.run(Peers.python(), [tagPeer("pylogix_tags.py"), "\(port)", "stale"])
        #expect(stale.text == "\"Resource unavailable\"\n", "\(stale.text) \(stale.stderr)")
        await service.stop()
    }

    /// A [[poll]] and two [[device]] tags of one slave share one poller: the
    /// slave is polled once a cycle for all of them (the shipped
    /// configuration used to poll boiler-house slave 1 twice).
    @Test func aPollAndDevicesOfOneSlaveShareOnePoller() async throws {
        let settings = SerialSettings(baud: 19200)
        let line = try VirtualBus(ends: 2, settings: settings)
        let slave = SlaveThread(path: line.paths[1], settings: settings, units: UnitMap(devices: [1: holdingDevice(Array(10..<20))]))
        defer { slave.stop() }
        let service = try await gateway("""
            [[line]]
            name = "shared"
            adapter = "\(line.paths[0])"
            [[poll]]
            line = "shared"
            slave = 1
            addresses = ["40001-40002"]
            period_s = 0.2
            [[device]]
            tag = "A"
            line = "shared"
            slave = 1
            period_s = 0.2
              [[device.member]]
              name = "X"
              register = "40003"
            [[device]]
            tag = "B"
            line = "shared"
            slave = 1
              [[device.member]]
              name = "Y"
              register = "40004"
            """, file: "shared.toml")
        #expect(service.pollers.count == 1, "one poller for slave 1, not \(service.pollers.count)")
        let poller = try #require(service.pollers.first)
        var deadline = 40
        while poller.read(ModbusAddress(40004)!) == nil && deadline > 0 {
            usleep(50_000)
            deadline -= 1
        }
        #expect((40001...40004).map { poller.read(ModbusAddress($0)!) } == [10, 11, 12, 13])
        let before = service.buses["shared"]!.counters.transactions
        usleep(1_000_000)
        let cycles = service.buses["shared"]!.counters.transactions - before
        #expect((3...7).contains(cycles), "one read a cycle of 0.2 s for the poll and both devices: \(cycles) in 1 s")
        await service.stop()
    }

    /// `[enip.identity]` is what pylogix's GetDeviceProperties reads back,
    /// the state (attribute 8) included; unset, the serial number is this
    /// machine's own.
    @Test func theIdentityIsConfigurableAndReadsRightInPylogix() async throws {
        let service = try await gateway("""
            [enip.identity]
            vendor_id = 1
            product_code = 55
            revision = "32.11"
            serial_number = 0x12345678
            product_name = "fieldgw test gateway"
            """, file: "identity.toml")
        let port = try #require(service.enipServer?.port)
        let script = """
            import sys
            from pylogix import PLC
            with PLC() as plc:
                plc.IPAddress, plc.Port = "127.0.0.1", int(sys.argv[1])
                d = plc.GetDeviceProperties().Value
                print(d.ProductName, d.ProductCode, d.Revision, d.SerialNumber, d.State)
            """
        let seen = try Peers.run(Peers.python(), ["-c", script, "\(port)"])
        // pylogix takes the reply's last byte for the state: in Get Attributes All as a 1756-L61 (and cpppo)
        // lays it out, that is the heartbeat interval, 0; ListIdentity ends with the state.
        #expect(seen.text == "fieldgw test gateway 55 32.11 0x12345678 0\n", "\(seen.text) \(seen.stderr)")
        await service.stop()

        let plain = try Configuration(toml: "[enip]\nbind = \"127.0.0.1:0\"\n", file: "plain.toml")
        if FileManager.default.fileExists(atPath: "/etc/machine-id") {
            #expect(plain.enip?.identity.serial != Identity().serial, "the serial number comes from /etc/machine-id")
        }
        let error = #expect(throws: ConfigurationError.self) {
            try Configuration(toml: "[enip]\n[enip.identity]\nrevision = \"20\"\n", file: "r.toml")
        }
        #expect(error?.description == "r.toml: enip.identity.revision: \"20\" is not MAJOR.MINOR (20.11), each 0-255")
    }

    /// `fieldgw enip-client` says in words what a gateway's CIP statuses
    /// mean: a write to a slave that does not answer (0x1F, extended 0x0B),
    /// a read of a device never polled (0x02).
    @Test func enipClientSaysWhatTheGatewaysStatusesMean() async throws {
        let line = try VirtualBus(ends: 2, settings: SerialSettings(baud: 19200))
        let service = try await gateway("""
            [[line]]
            name = "silent"
            adapter = "\(line.paths[0])"
            timeout_max_ms = 100
            [[device]]
            tag = "Nobody"
            line = "silent"
            slave = 9
              [[device.member]]
              name = "Level"
              register = "40001"
            """, file: "silent.toml")
        let port = try #require(service.enipServer?.port)
        let write = try Peers.run(Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "Nobody.Level=(INT)5"])
        #expect(write.status == 1 && write.text.contains("failed: CIP 0x1F (vendor specific) extended 0xB: the slave did not answer"),
                "\(write.text) \(write.stderr)")
        let read = try Peers.run(Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "Nobody.Level"])
        #expect(read.text.contains("Nobody.Level failed: CIP 0x02 (resource unavailable)"), "\(read.text) \(read.stderr)")
        await service.stop()
    }

    @Test func aDevicesConfigurationIsChecked() throws {
        let base = "[[line]]\nname = \"a\"\nadapter = \"/dev/null\"\n[[device]]\ntag = \"D\"\nline = \"a\"\nslave = 1\n"
        let cases: [(String, String)] = [
            ("[[device.member]]\nname = \"X\"\nregister = \"40001\"\ntype = \"BOOL\"\n", "device[0].member[0].type: a register is not a BOOL"),
            ("[[device.member]]\nname = \"X\"\nregister = \"1\"\nscale = 2.0\n", "device[0].member[0].scale: a scale must be non-zero, and a BOOL has none"),
            ("[[device.member]]\nname = \"X\"\nregister = \"20000\"\n", "device[0].member[0].register: \"20000\" is not a register as cpppo writes it (40001, 30001, 10001, 1 or six digits)"),
            ("[[device.member]]\nname = \"X\"\nregister = \"40001\"\nword_order = \"middle\"\n", "device[0].member[0].word_order: \"middle\" is not big or little"),
            ("", "device[0].member: a device needs at least one [[device.member]]"),
            ("[[device.member]]\nname = \"X\"\nregister = \"40001\"\n[enip]\nallow = [\"10.0.0.0/33\"]\n",
             "enip.allow[0]: \"10.0.0.0/33\" is not an address or IPv4 CIDR (10.0.0.0/8)"),
        ]
        for (tail, message) in cases {
            let error = #expect(throws: ConfigurationError.self) { try Configuration(toml: base + tail, file: "g.toml") }
            #expect(error?.description == "g.toml: \(message)")
        }
        let config = try Configuration(toml: base + "[[device.member]]\nname = \"X\"\nregister = \"40001\"\n", file: "g.toml")
        #expect(config.enip?.port == 44818 && config.devices.first?.members.first?.type == .int, "a device turns the EtherNet/IP server on")
    }
}

func tagPeer(_ script: String) -> String {
    Peers.packageRoot.appendingPathComponent("Tests/GatewayTests/Peers/\(script)").path
}
