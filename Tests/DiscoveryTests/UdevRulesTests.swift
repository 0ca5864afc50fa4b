import Foundation
import TestSupport
import Testing

/// udev/60-fieldgw.rules run by udev itself: `udevadm test` processes an add
/// event for a umockdev device with only our rules loaded. A private mount
/// namespace puts our rules in /etc/udev/rules.d, hides the system's, and
/// gives udevadm a /run of its own, so nothing leaks onto the machine.
@Suite(.ownThreads) struct UdevRulesTests {
    private static let fixtures = Peers.packageRoot.appendingPathComponent("Tests/DiscoveryTests/Fixtures")
    private static let usb = "/sys/devices/pci0000:00/0000:00:14.0/usb1"

    private func udevTest(_ sysPath: String) throws -> String {
        let rules = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: rules) }
        try FileManager.default.copyItem(at: Peers.packageRoot.appendingPathComponent("udev/60-fieldgw.rules"),
                                         to: rules.appendingPathComponent("60-fieldgw.rules"))
        let script = """
            mount --bind "$1" /etc/udev/rules.d && mount -t tmpfs tmpfs /usr/lib/udev/rules.d && mount -t tmpfs tmpfs /run \
            && exec "$2" -d "$3" -- "$4" test --action=add "$5"
            """
        let arguments = ["-m", "sh", "-c", script, "sh", rules.path, try Peers.program("umockdev-run"),
                         Self.fixtures.appendingPathComponent("adapters.umockdev").path, try Peers.program("udevadm"), sysPath]
        let output = try Peers.run(Peers.program("unshare"), arguments)
        #expect(output.status == 0, "\(output.stderr)")
        return output.text + output.stderr
    }

    /// Where a rule is in the file, as udevadm names it (comments above it move it).
    private static func lineNumber(of rule: String) throws -> Int {
        let text = try String(contentsOf: Peers.packageRoot.appendingPathComponent("udev/60-fieldgw.rules"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return try #require(lines.firstIndex { $0.hasPrefix(rule) }) + 1
    }

    @Test func anFTDIGetsItsGroupModeLinkAndModemManagerStaysAway() throws {
        let log = try udevTest("\(Self.usb)/1-2/1-2:1.0/ttyUSB0/tty/ttyUSB0")
        let rule = try Self.lineNumber(of: "GROUP=\"dialout\", MODE=\"0660\"")
        #expect(log.contains("60-fieldgw.rules:\(rule) GROUP 20"), "dialout is group 20 on Debian")
        #expect(log.contains("60-fieldgw.rules:\(rule) MODE 0660"))
        #expect(log.contains("ID_MM_DEVICE_IGNORE=1"))
        #expect(log.contains("DEVLINKS=/dev/fieldgw/0403-6001-AH06W0EQ-if00"))
    }

    @Test func eachPortOfAQuadChipGetsItsOwnLink() throws {
        let log = try udevTest("\(Self.usb)/1-4/1-4:1.2/ttyUSB7/tty/ttyUSB7")
        #expect(log.contains("DEVLINKS=/dev/fieldgw/0403-6011-FT4XK9Q1-if02"))
    }

    @Test func aChipWithoutSerialIsNamedByItsPortAsDiscoveryNamesIt() throws {
        let log = try udevTest("\(Self.usb)/1-3/1-3:1.0/ttyUSB4/tty/ttyUSB4")
        #expect(log.contains("DEVLINKS=/dev/fieldgw/path-pci-0000:00:14.0-usb-0:3:1.0"))
        // Discovery computes the by-path link itself where udevd made none: it must agree with path_id.
        #expect(log.contains("ID_PATH=pci-0000:00:14.0-usb-0:3:1.0\n"))
    }

    @Test func theFTDILatencyTimerIsSetToOneMillisecond() throws {
        let log = try udevTest("\(Self.usb)/1-2/1-2:1.0/ttyUSB0")
        #expect(log.contains("ttyUSB0/latency_timer' writing '1'"))
    }

    @Test func aBuiltInUARTIsLeftAlone() throws {
        let log = try udevTest("/sys/devices/platform/serial8250/tty/ttyS0")
        #expect(!log.contains("fieldgw/"))
        #expect(!log.contains("ID_MM_DEVICE_IGNORE"))
        #expect(!log.contains("MODE 0660"))
    }
}
