import Foundation
import TestSupport
import Testing
@testable import Discovery

/// Real libudev on devices that are not there: umockdev fakes sysfs, /dev and
/// udev's database for the fieldgw binary it runs (Fixtures/*.umockdev).
@Suite(.ownThreads) struct UmockdevDiscoveryTests {
    private static let fixtures = Peers.packageRoot.appendingPathComponent("Tests/DiscoveryTests/Fixtures")

    /// Runs `fieldgw ARGUMENTS` among the fixture's devices.
    private func discover(_ fixture: String, _ arguments: [String]) throws -> Peers.Output {
        let device = Self.fixtures.appendingPathComponent(fixture).path
        return try Peers.run(Peers.program("umockdev-run"), ["-d", device, "--", Peers.fieldgw(), "discover"] + arguments)
    }

    private func adapters(_ fixture: String, _ arguments: [String] = []) throws -> [SerialAdapter] {
        let output = try discover(fixture, ["--json"] + arguments)
        #expect(output.status == 0, "\(output.stderr)")
        return try JSONDecoder().decode([SerialAdapter].self, from: output.stdout)
    }

    @Test func listsEachChipWithWhatItIs() throws {
        let found = try adapters("adapters.umockdev")
        #expect(found.map(\.node) == ["/dev/ttyACM0", "/dev/ttyS0", "/dev/ttyUSB0", "/dev/ttyUSB4",
                                      "/dev/ttyUSB5", "/dev/ttyUSB6", "/dev/ttyUSB7", "/dev/ttyUSB8"],
                "the virtual tty0 and the phantom ttyS1 (UART type 0) are left out")
        let byNode = Dictionary(uniqueKeysWithValues: found.map { ($0.node, $0) })

        let ftdi = try #require(byNode["/dev/ttyUSB0"])
        #expect(ftdi.chip == "FTDI FT232R" && ftdi.usbID == "0403:6001" && ftdi.driver == "ftdi_sio")
        #expect(ftdi.serial == "AH06W0EQ" && ftdi.vendor == "FTDI" && ftdi.product == "FT232R USB UART")
        #expect(ftdi.interface == 0 && ftdi.bus == "usb" && ftdi.latencyTimer == 16)
        #expect(ftdi.byID == ["/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_AH06W0EQ-if00-port0"])
        #expect(ftdi.byPath == "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0")

        let ch340 = try #require(byNode["/dev/ttyUSB4"])
        #expect(ch340.chip == "WCH CH340" && ch340.usbID == "1a86:7523" && ch340.serial == nil)
        #expect(ch340.vendor == "QinHeng" && ch340.latencyTimer == nil, "read from sysfs: udevd never saw it")
        #expect(ch340.byPath == "/dev/serial/by-path/pci-0000:00:14.0-usb-0:3:1.0-port0", "the path udev's rules would make")
        #expect(ch340.stableName == ch340.byPath)

        let quad = (5...8).compactMap { byNode["/dev/ttyUSB\($0)"] }
        #expect(quad.map(\.interface) == [0, 1, 2, 3])
        #expect(quad.map(\.stableName) == (0...3).map { "serial:FT4XK9Q1:\($0)" })
        #expect(quad.allSatisfy { $0.chip == "FTDI FT4232H" })

        let acm = try #require(byNode["/dev/ttyACM0"])
        #expect(acm.chip == "CDC-ACM" && acm.driver == "cdc_acm" && acm.usbID == "2341:0043")
        let uart = try #require(byNode["/dev/ttyS0"])
        #expect(uart.bus == "platform" && uart.driver == "serial8250" && uart.usbID == nil)
    }

    @Test func theTableNamesNodeChipIdsSerialAndLink() throws {
        let output = try discover("ft232r.umockdev", [])
        let lines = output.text.split(separator: "\n")
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["NODE", "CHIP", "VID:PID", "SERIAL", "STABLE", "BY-ID"])
        #expect(lines.count == 2 && lines[1].contains("/dev/ttyUSB0  FTDI FT232R  0403:6001  AH06W0EQ  serial:AH06W0EQ"))
    }

    @Test(arguments: [("serial:FT4XK9Q1:2", "/dev/ttyUSB7"), ("0403:6011:3", "/dev/ttyUSB8"),
                      ("by-path:pci-0000:00:14.0-usb-0:3:1.0-port0", "/dev/ttyUSB4"), ("/dev/ttyACM*", "/dev/ttyACM0")])
    func matchersResolveAgainstRealLibudev(matcher: String, node: String) throws {
        #expect(try adapters("adapters.umockdev", ["--match", matcher]).map(\.node) == [node])
    }

    @Test func anAmbiguousMatcherIsRefusedWithTheCandidates() throws {
        let output = try discover("adapters.umockdev", ["--match", "serial:FT4XK9Q1"])
        #expect(output.status != 0)
        #expect(output.stderr.contains("serial:FT4XK9Q1 matches 4 adapters: /dev/ttyUSB5 (serial:FT4XK9Q1:0)"))
    }

    @Test func latencyTimerIsSetOnAnFTDIAndRefusedElsewhere() throws {
        #expect(try adapters("adapters.umockdev", ["--match", "serial:AH06W0EQ", "--latency-timer", "1"]).first?.latencyTimer == 1)
        let refused = try discover("adapters.umockdev", ["--match", "1a86:7523", "--latency-timer", "1"])
        #expect(refused.status != 0 && refused.stderr.contains("only FTDI adapters have one (WCH CH340 has not)"))
    }

    /// A re-plug elsewhere, seen by the watcher: the adapter leaves as ttyUSB0
    /// and comes back as ttyUSB9 on another port, with the same serial number.
    @Test(arguments: ["udev", "rescan", "automatic"])
    func watchSeesUnplugAndReplug(mode: String) throws {
        let script = Self.fixtures.appendingPathComponent("hotplug.py").path
        let output = try Peers.run(Peers.program("umockdev-wrapper"),
                                   [Self.systemPython(), script, Peers.fieldgw(), mode, Self.fixtures.path])
        #expect(output.status == 0, "\(output.stderr)")
        let events = output.text.split(separator: "\n").compactMap { line in
            try? JSONDecoder().decode(WatchEvent.self, from: Data(line.utf8))
        }
        #expect(events.map(\.event) == ["added", "removed", "added"])
        #expect(events.map(\.adapter.node) == ["/dev/ttyUSB0", "/dev/ttyUSB0", "/dev/ttyUSB9"])
        #expect(events.allSatisfy { $0.adapter.stableName == "serial:AH06W0EQ" }, "found again by who it is")
        #expect(events.last?.adapter.byPath == "/dev/serial/by-path/pci-0000:00:14.0-usb-0:6:1.0-port0")
        let fellBack = output.stderr.contains("no udev daemon runs here (no /run/udev/control): watching for adapters by rescanning sysfs")
        #expect(fellBack == (mode == "automatic" && !AdapterMonitor.udevDaemonRuns), "the fallback is logged, and only when taken")
    }

    private struct WatchEvent: Decodable {
        let event: String
        let adapter: SerialAdapter
    }

    /// Debian's Python, which has the GObject bindings for libumockdev (python3-gi, gir1.2-umockdev-1.0).
    private static func systemPython() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            throw Peers.Missing(description: "/usr/bin/python3 is not installed: run `make test`, which installs it")
        }
        return "/usr/bin/python3"
    }
}
