import Foundation
import Modbus
import Serial
import TestSupport
import Testing
import EtherNetIP
@testable import Gateway

/// The configuration file: the shipped example reads as documented, and each
/// kind of mistake names the file, the key and the reason.
@Suite(.ownThreads) struct ConfigurationTests {
    private let minimal = """
        [[line]]
        name = "a"
        adapter = "/dev/ttyS1"
        [[route]]
        units = "1-10"
        line = "a"
        [[listener]]
        bind = "127.0.0.1:0"
        """

    @Test func theShippedExampleReadsAsDocumented() throws {
        let path = Peers.packageRoot.appendingPathComponent("etc/fieldgw.toml").path
        let configuration = try Configuration(file: path)
        #expect(configuration.logLevel == .info)
        #expect(configuration.lines.map(\.name) == ["boiler-house", "pump-station"])
        let boiler = configuration.lines[0]
        #expect(boiler.adapter.description.contains("A10KZ3L7"))
        #expect(boiler.settings.baud == 19200 && boiler.settings.parity == .even && boiler.settings.stopBits == 1)
        #expect(boiler.rs485 == RS485Settings())
        #expect(boiler.options.health.maximumTimeout == .seconds(1) && boiler.options.queueCapacity == 64)
        let pumps = configuration.lines[1]
        #expect(pumps.settings.parity == .none && pumps.settings.stopBits == 2 && pumps.rs485 == nil)
        #expect(configuration.routes == [Configuration.Route(units: 1...31, line: "boiler-house", offset: 0),
                                         Configuration.Route(units: 101...131, line: "pump-station", offset: 100)])
        #expect(configuration.listeners.map(\.port) == [502, 1502] && configuration.listeners[1].readOnly)
        let poll = try #require(configuration.polls.first)
        #expect(poll.line == "boiler-house" && poll.slave == 1 && poll.period == .seconds(1) && poll.reach == 100 && poll.agentAge == nil)
        #expect(poll.addresses.count == 30 && poll.addresses.first == ModbusAddress(40001) && poll.addresses.last == ModbusAddress(16))
        #expect(configuration.enip == Configuration.ENIP(host: "0.0.0.0", port: 44818, connectionLimit: 64, allow: []))
        let device = try #require(configuration.devices.first)
        #expect(device.tag == "Boiler" && device.line == "boiler-house" && device.period == .seconds(1) && device.maxAge == .seconds(5))
        #expect(device.members.map(\.name) == ["Temperature", "Flow", "Setpoint", "Burner"])
        #expect(device.members.map(\.type) == [.real, .real, .int, .bool] && device.members[0].scale == 0.1)
        #expect(device.members[1].encoding == .real && !device.members[1].lowWordFirst && device.members[3].address == ModbusAddress(1))
    }

    /// Found by fuzzing: toml++ aborts the process (an assertion, even in a
    /// release build) on a table header whose key begins with a character no
    /// key may begin with. Such a header is a configuration error, with its
    /// line; headers and values that only look alike still load.
    @Test func aTableHeaderThatWouldAbortTheParserIsAnError() throws {
        for (text, line, found) in [("[!a]", 1, "!"), ("a = 1\n\n[[ %x]]", 3, "%"), ("[line]\nb = [\n  1,\n]\n[ {x]", 5, "{"), ("\u{FEFF}[[\nunits = 1", 1, "\\n")] {
            #expect(throws: ConfigurationError(file: "t.toml", key: "", reason: "line \(line): a table header must begin with a key, not '\(found)'")) {
                try Configuration(toml: text, file: "t.toml")
            }
        }
        let fine = """
            # [!comment]
            [logging]
            level = "info" # [!x]
            [status]
            bind = "127.0.0.1:0"
            text = \"\"\"
            [!not a header]
            \"\"\"
            """
        #expect(TOMLHeaderCheck.problem(in: fine) == nil)
    }

    /// Found by fuzzing too: toml++ aborts on a `}` where an array expects a
    /// value. An error with its line; a `}` that closes an inline table in an array still loads.
    @Test func aBraceWhereAnArrayExpectsAValueIsAnError() throws {
        for (text, line) in [("a = [}]", 1), ("a = [1,}]", 1), ("[x]\na = [[}]]", 2), ("a = [\n# c\n}]", 3), ("a = {b = [}]}", 1)] {
            #expect(throws: ConfigurationError(file: "t.toml", key: "", reason: "line \(line): '}' where the array expects a value or ']'")) {
                try Configuration(toml: text, file: "t.toml")
            }
        }
        #expect(TOMLHeaderCheck.problem(in: "a = [{b = 1}, {c = \"}\"}]\nd = \"[}\" # [}") == nil)
    }

    @Test func theWebServerIsOnByDefaultOnLoopbackAndAsksForATokenBeyondIt() throws {
        #expect(try Configuration(toml: minimal, file: "s").web == Configuration.Web(host: "127.0.0.1", port: 8502))
        let token = "0123456789abcdef0123"
        #expect(try Configuration(toml: minimal + "\n[web]\nbind = \":9000\"\ntoken = \"\(token)\"\n", file: "s").web
            == Configuration.Web(host: "0.0.0.0", port: 9000, token: token))
        #expect(try Configuration(toml: minimal + "\n[status]\nenabled = false\n", file: "s").web == nil)
        let user = "\n[web]\nwrites = true\n[[web.user]]\nname = \"op\"\npassword_hash = \"$2b$12$abc\"\n"
        #expect(try Configuration(toml: minimal + user, file: "s").web == Configuration.Web(users: [.init(name: "op", passwordHash: "$2b$12$abc")], writes: true))
        let error = #expect(throws: ConfigurationError.self) { try Configuration(toml: minimal + "\n[status]\nbind = \"x\"\n", file: "s") }
        #expect(error?.description == "s: status.bind: \"x\" is not HOST:PORT")
        let open = #expect(throws: ConfigurationError.self) { try Configuration(toml: minimal + "\n[web]\nbind = \"0.0.0.0:8502\"\n", file: "s") }
        #expect(open?.description == "s: web.bind: 0.0.0.0:8502 is reachable from other machines: set token, or add [[web.user]] entries")
        let short = #expect(throws: ConfigurationError.self) { try Configuration(toml: minimal + "\n[web]\ntoken = \"abc\"\n", file: "s") }
        #expect(short?.description == "s: web.token: a token must be at least 16 characters")
        let hash = #expect(throws: ConfigurationError.self) {
            try Configuration(toml: minimal + "\n[web]\n[[web.user]]\nname = \"op\"\npassword_hash = \"secret\"\n", file: "s")
        }
        #expect(hash?.description.hasSuffix("password_hash: not a bcrypt hash (make one with `fieldgw web-password`)") == true, "\(String(describing: hash))")
        let twice = "\n[[listener]]\nbind = \"127.0.0.1:0\"\n"
        let same = #expect(throws: ConfigurationError.self) { try Configuration(toml: minimal + twice + twice, file: "s") }
        #expect(same?.description.contains("the same as listener[") == true, "\(String(describing: same))")
        let both = #expect(throws: ConfigurationError.self) { try Configuration(toml: minimal + "\n[web]\n[status]\n", file: "s") }
        #expect(both?.description == "s: status: [status] is the older name of [web]: keep one")
    }

    @Test func pollsNameALineAndAddressesWithoutValues() throws {
        let agent = try Configuration(toml: minimal + "\n[[poll]]\nline = \"a\"\nslave = 3\naddresses = [\"40001\"]\nagent_age_s = 0.5\n", file: "p")
        #expect(agent.polls.first?.agentAge == .milliseconds(500))
        for (table, message) in [
            ("[[poll]]\nline = \"b\"\nslave = 1\naddresses = [\"40001\"]", "p: poll[0].line: no [[line]] is named \"b\""),
            ("[[poll]]\nline = \"a\"\nslave = 1\naddresses = [\"40001=5\"]", "p: poll[0].addresses[0]: \"40001=5\": a poll takes addresses, not values"),
            ("[[poll]]\nline = \"a\"\nslave = 1\naddresses = [\"20001\"]", "p: poll[0].addresses[0]: \"20001\" is not an address"),
            ("[[poll]]\nline = \"a\"\nslave = 300\naddresses = []", "p: poll[0].slave: 300 is outside 1–247"),
        ] {
            let error = #expect(throws: ConfigurationError.self) { try Configuration(toml: minimal + "\n" + table + "\n", file: "p") }
            #expect(error?.description.hasPrefix(message) == true, "\(error?.description ?? "")")
        }
    }

    @Test func aMinimalFileTakesTheDefaults() throws {
        let configuration = try Configuration(toml: minimal, file: "min.toml")
        let line = try #require(configuration.lines.first)
        #expect(line.settings == SerialSettings() && line.options.retries == 0 && line.options.health.failuresToOpen == 3)
        #expect(line.options.interFrameDelay == .zero)
        let slow = try Configuration(toml: minimal.replacingOccurrences(of: "adapter = \"/dev/ttyS1\"", with: "adapter = \"/dev/ttyS1\"\ninterframe_ms = 12.5"),
                                     file: "slow.toml")
        #expect(slow.lines.first?.options.interFrameDelay == .microseconds(12_500))
        #expect(configuration.listeners == [Configuration.Listener(host: "127.0.0.1", port: 0, connectionLimit: 256, allow: [], readOnly: false)])
    }

    @Test(arguments: [
        ("baud = 19200", "buad = 19200", "line[0].buad: unknown key"),
        ("baud = 19200", "baud = \"fast\"", "line[0].baud: expected a whole number, found string"),
        ("baud = 19200", "baud = 12", "line[0].baud: 12 is outside 50–4000000"),
        ("baud = 19200", "parity = \"evn\"", "line[0].parity: \"evn\" is not one of none, even, odd, mark, space"),
        ("baud = 19200", "timeout_min_ms = 900\ntimeout_max_ms = 100", "line[0].timeout_min_ms: 900 is above timeout_max_ms (100)"),
        ("adapter = \"/dev/ttyS1\"", "adapter = \"0403\"", "line[0].adapter: expected serial:"),
        ("line = \"a\"", "line = \"b\"", "route[0].line: no [[line]] is named \"b\""),
        ("units = \"1-10\"", "units = \"10-1\"", "route[0].units: \"10-1\" is not a unit id or a range"),
        ("units = \"1-10\"", "units = \"1-10\"\noffset = 5", "route[0].offset: slave = unit − offset: units 1-10 with offset 5 would be slaves -4 to 5, and slaves are 1 to 247"),
        ("bind = \"127.0.0.1:0\"", "bind = \"localhost\"", "listener[0].bind: \"localhost\" is not HOST:PORT"),
        ("bind = \"127.0.0.1:0\"", "allow = [\"10.0.0.0/33\"]", "listener[0].allow[0]: \"10.0.0.0/33\" is not an address or IPv4 CIDR"),
        ("name = \"a\"", "", "line[0].name: is required"),
        ("[[listener]]", "[logging]\nlevel = \"loud\"\n[[listener]]", "logging.level: \"loud\" is not one of trace"),
        ("[[listener]]", "[[listener]]\nbind = ", "bad.toml: line 8: Error while parsing key-value pair"),
    ] as [(String, String, String)])
    func aMistakeIsNamedWithItsKeyAndReason(original: String, replacement: String, message: String) {
        let text = minimal.replacingOccurrences(of: original, with: replacement).replacingOccurrences(of: "baud = 19200", with: "")
        let toml = original == "baud = 19200" ? minimal.replacingOccurrences(of: "adapter = \"/dev/ttyS1\"", with: "adapter = \"/dev/ttyS1\"\n\(replacement)") : text
        let error = #expect(throws: ConfigurationError.self) { try Configuration(toml: toml, file: "bad.toml") }
        #expect(error?.description.hasPrefix("bad.toml: ") == true && error?.description.contains(message) == true, "\(error?.description ?? "no error")")
    }

    /// One HOST:PORT parser for the configuration and the command line.
    @Test func endpointsAreReadOneWay() {
        #expect(Endpoint.parse("10.1.2.3:502")! == ("10.1.2.3", 502))
        #expect(Endpoint.parse(":1502")! == ("0.0.0.0", 1502))
        #expect(Endpoint.parse(":8502", anyHost: "127.0.0.1")! == ("127.0.0.1", 8502))
        #expect(Endpoint.parse("plc7", defaultPort: 44818)! == ("plc7", 44818))
        #expect(Endpoint.parse("[::1]:502")! == ("[::1]", 502), "the last colon splits")
        for bad in ["plc7", "h:", "h:x", "h:65536", "h:-1"] { #expect(Endpoint.parse(bad) == nil, "\(bad)") }
    }

    /// `[enip] threads` reaches the server's limits; out of range it names the key.
    @Test func enipThreadsAreReadAndChecked() throws {
        let two = try Configuration(toml: minimal + "\n[enip]\nbind = \"127.0.0.1:0\"\nthreads = 2\n", file: "t")
        #expect(two.enip?.limits.threads == 2)
        #expect(try Configuration(toml: minimal + "\n[enip]\nbind = \"127.0.0.1:0\"\n", file: "t").enip?.limits.threads == 1)
        let error = #expect(throws: ConfigurationError.self) {
            try Configuration(toml: minimal + "\n[enip]\nbind = \"127.0.0.1:0\"\nthreads = 0\n", file: "t.toml")
        }
        #expect(error?.description.hasPrefix("t.toml: ") == true && error?.description.contains("threads") == true, "\(error?.description ?? "")")
    }

    @Test func assembliesAreReadLaidOutAndChecked() throws {
        let member = "[[assembly.member]]\nline = \"a\"\nslave = 2\nname = \"%@\"\nregister = \"%@\"\n"
        func table(_ instance: Int, _ role: String, _ extra: String = "", members: [(String, String)] = [("V", "40001")]) -> String {
            "\n[[assembly]]\ninstance = \(instance)\nrole = \"\(role)\"\n\(extra)"
                + members.map { String(format: member, $0.0, $0.1) }.joined()
        }
        let good = try Configuration(toml: minimal + table(100, "input", members: [("V", "40001"), ("W", "40003")])
                                     + table(150, "output", "on_timeout = \"safe\"\n") + table(151, "configuration", members: []), file: "a")
        #expect(good.assemblies.map(\.size) == [5, 2, 0], "an input starts with its slaves' status byte")
        #expect(good.assemblies[1].safeOnTimeout && !good.assemblies[1].safeOnIdle)
        #expect(good.enip?.host == "127.0.0.1" && good.enip?.ioSocket.port == 2222, "assemblies bring the EtherNet/IP server, as devices do")
        #expect(good.assemblyPolls.map(\.addresses.count) == [2], "the input's registers are polled; the output's slave is the same")
        func error(_ toml: String) -> String {
            (#expect(throws: ConfigurationError.self) { try Configuration(toml: minimal + toml, file: "a.toml") })?.description ?? ""
        }
        #expect(error(table(100, "input") + table(100, "output")).contains("assembly[1].instance: 100 names two assemblies"))
        #expect(error(table(198, "input")).contains("heartbeat"))
        #expect(error(table(100, "sideways")).contains("role: \"sideways\" is not input, output or configuration"))
        #expect(error(table(100, "input", "on_idle = \"safe\"\n")).contains("only an output assembly has an action"))
        #expect(error(table(100, "output", members: []) ).contains("at least one [[assembly.member]]"))
        #expect(error(table(100, "output").replacingOccurrences(of: "line = \"a\"", with: "line = \"b\"")).contains("member[0].line: no [[line]] is named \"b\""))
        #expect(error(table(100, "output") + "safe = 70000\n").contains("member[0].safe: 70000.0 does not fit a INT"))
        #expect(error("\n[enip]\nbind = \"127.0.0.1:0\"\n[enip.io]\nbind = \"nowhere\"\n").contains("enip.io.bind"))
        // [enip.io]: every key read, each out of range named.
        let io = "\n[enip]\nbind = \"127.0.0.1:0\"\n[enip.io]\nbind = \"127.0.0.1:0\"\n"
        let tuned = try Configuration(toml: minimal + io + "destination_port = 2300\nmulticast_ttl = 4\nspin_us = 250\n", file: "a").enip?.io
        #expect(tuned?.destinationPort == 2300 && tuned?.multicastTTL == 4 && tuned?.spinMicroseconds == 250, "\(String(describing: tuned))")
        let plain = try Configuration(toml: minimal + io, file: "a").enip?.io
        #expect(plain?.destinationPort == 2222 && plain?.multicastTTL == 1 && plain?.spinMicroseconds == 0)
        #expect(error(io + "multicast_ttl = 0\n").contains("enip.io.multicast_ttl"))
        #expect(error(io + "spin_us = 9000\n").contains("enip.io.spin_us"))
    }

    /// [[device]] without [enip] used to open 0.0.0.0:44818 to everyone, read
    /// and write, beside listeners on loopback only.
    @Test func devicesWithoutENIPListenWhereTheListenersDoOrOnLoopback() throws {
        let device = "\n[[device]]\ntag = \"T\"\nline = \"a\"\nslave = 1\n[[device.member]]\nname = \"V\"\nregister = \"40001\"\n"
        let loopback = try Configuration(toml: minimal + device, file: "d")
        #expect(loopback.enip?.host == "127.0.0.1" && loopback.enip?.port == 44818 && loopback.enipBindIsDefault)
        let shared = minimal.replacingOccurrences(of: "127.0.0.1:0", with: "10.1.2.3:502")
        #expect(try Configuration(toml: shared + device, file: "d").enip?.host == "10.1.2.3")
        let two = minimal + "\n[[listener]]\nbind = \"0.0.0.0:1502\"\n"
        #expect(try Configuration(toml: two + device, file: "d").enip?.host == "127.0.0.1", "listeners that disagree: loopback")
        let explicit = try Configuration(toml: minimal + device + "[enip]\nbind = \"0.0.0.0:44818\"\n", file: "d")
        #expect(explicit.enip?.host == "0.0.0.0" && !explicit.enipBindIsDefault)
    }

    /// A directory, a binary or a missing file is named as such, not in
    /// Foundation's words ("The file isn't in the correct format").
    @Test func aFileThatIsNoConfigurationSaysWhatItIs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-dir-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let binary = directory + "/fieldgw.bin"
        try Data([0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x00, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: binary))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cases = [(directory, "is a directory, not a configuration file"), (binary, "is not a text file"), (directory + "/none.toml", "no such file")]
        for (path, reason) in cases {
            #expect(throws: ConfigurationError.self) { try Configuration(file: path) }
            do { _ = try Configuration(file: path) } catch {
                #expect(error.description.hasPrefix("\(path): \(reason)"), "\(error)")
                #expect(!error.description.contains("NSCocoaErrorDomain") && !error.description.contains("correct format"))
            }
        }
    }

    @Test func twoRoutesForOneUnitAndNoListenerAreRefused() {
        let overlap = minimal + "\n[[route]]\nunits = \"5\"\nline = \"a\"\n"
        let error = #expect(throws: ConfigurationError.self) { try Configuration(toml: overlap, file: "f") }
        #expect(error?.description == "f: route[1].units: unit 5 is already routed by route[0]")
        let silent = minimal.replacingOccurrences(of: "[[listener]]\nbind = \"127.0.0.1:0\"", with: "")
        let none = #expect(throws: ConfigurationError.self) { try Configuration(toml: silent, file: "f") }
        #expect(none?.description == "f: listener: at least one [[listener]] (or [enip], or [[serial_slave]]) is needed")
        let missing = #expect(throws: ConfigurationError.self) { try Configuration(file: "/nonexistent/fieldgw.toml") }
        #expect(missing?.description == "/nonexistent/fieldgw.toml: no such file")
    }

    @Test func allowListsMatchNetworksAndAddresses() throws {
        let network = try #require(AddressRange("10.1.0.0/16"))
        #expect(network.contains("10.1.200.3") && !network.contains("10.2.0.1") && !network.contains("::1"))
        #expect(try #require(AddressRange("0.0.0.0/0")).contains("192.168.7.7"))
        #expect(try #require(AddressRange("127.0.0.1")).contains("127.0.0.1") && !(try #require(AddressRange("127.0.0.1")).contains("127.0.0.2")))
        #expect(try #require(AddressRange("::1")).contains("::1"))
        for bad in ["10.0.0/8", "10.0.0.0/40", "fred", "1.2.3.4/x"] { #expect(AddressRange(bad) == nil, "\(bad)") }
    }
}
