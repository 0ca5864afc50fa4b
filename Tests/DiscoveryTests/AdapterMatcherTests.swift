import Testing
@testable import Discovery
import TestSupport

@Suite(.ownThreads) struct AdapterMatcherTests {
    private func adapter(_ node: String, vendor: UInt16, product: UInt16, serial: String?, interface: Int = 0,
                         byID: [String] = [], byPath: String? = nil) -> SerialAdapter {
        var adapter = SerialAdapter(node: node, sysPath: "/sys/devices/test/\(node)")
        adapter.vendorID = vendor
        adapter.productID = product
        adapter.serial = serial
        adapter.interface = interface
        adapter.byID = byID
        adapter.byPath = byPath
        return adapter
    }

    private var present: [SerialAdapter] {
        [adapter("/dev/ttyUSB0", vendor: 0x0403, product: 0x6001, serial: "AH06W0EQ",
                 byID: ["/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_AH06W0EQ-if00-port0"]),
         adapter("/dev/ttyUSB1", vendor: 0x1A86, product: 0x7523, serial: nil,
                 byPath: "/dev/serial/by-path/pci-0000:00:14.0-usb-0:3:1.0-port0"),
         adapter("/dev/ttyUSB2", vendor: 0x0403, product: 0x6011, serial: "FT4X", interface: 0),
         adapter("/dev/ttyUSB3", vendor: 0x0403, product: 0x6011, serial: "FT4X", interface: 1)]
    }

    @Test(arguments: [
        ("serial:AH06W0EQ", AdapterMatcher.serial("AH06W0EQ", interface: nil)),
        ("serial:FT4X:1", .serial("FT4X", interface: 1)),
        ("0403:6001", .usb(vendorID: 0x0403, productID: 0x6001, interface: nil)),
        ("usb:1a86:7523", .usb(vendorID: 0x1A86, productID: 0x7523, interface: nil)),
        ("0403:6011:1", .usb(vendorID: 0x0403, productID: 0x6011, interface: 1)),
        ("/dev/serial/by-id/usb-X-if00-port0", .link("/dev/serial/by-id/usb-X-if00-port0")),
        ("by-path:pci-0000:00:14.0-usb-0:3:1.0-port0", .link("/dev/serial/by-path/pci-0000:00:14.0-usb-0:3:1.0-port0")),
        ("/dev/ttyUSB*", .node(pattern: "/dev/ttyUSB*")),
    ])
    func parses(text: String, expected: AdapterMatcher) throws {
        let matcher = try AdapterMatcher(parsing: text)
        #expect(matcher == expected)
        #expect(try AdapterMatcher(parsing: matcher.description) == matcher, "description reads back")
    }

    @Test(arguments: ["serial:", "403:6001", "0403:60011", "0403:zzzz", "0403:6001:x", "serial:A:1:2", "ttyUSB0", "0403:6011:300"])
    func refusesWithAReason(text: String) {
        let error = #expect(throws: AdapterMatcher.ParseError.self) { try AdapterMatcher(parsing: text) }
        #expect(error?.description.hasPrefix("adapter \"\(text)\": ") == true)
    }

    @Test func eachFormFindsItsAdapter() throws {
        let cases = [("serial:AH06W0EQ", "/dev/ttyUSB0"), ("0403:6001", "/dev/ttyUSB0"),
                     ("by-path:pci-0000:00:14.0-usb-0:3:1.0-port0", "/dev/ttyUSB1"), ("1a86:7523", "/dev/ttyUSB1"),
                     ("serial:FT4X:1", "/dev/ttyUSB3"), ("0403:6011:0", "/dev/ttyUSB2"),
                     ("/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_AH06W0EQ-if00-port0", "/dev/ttyUSB0"),
                     ("/dev/ttyUSB[2]", "/dev/ttyUSB2")]
        for (text, node) in cases {
            #expect(try AdapterMatcher(parsing: text).resolve(in: present).node == node, "\(text)")
        }
    }

    @Test func noneOrSeveralIsAnErrorThatSaysWhatIsThere() throws {
        let none = #expect(throws: AdapterResolutionError.self) { try AdapterMatcher(parsing: "serial:GONE").resolve(in: present) }
        #expect(none?.description.contains("no adapter matches serial:GONE (present: serial:AH06W0EQ, /dev/serial/by-path/") == true)
        let several = #expect(throws: AdapterResolutionError.self) { try AdapterMatcher(parsing: "serial:FT4X").resolve(in: present) }
        #expect(several?.description.contains("matches 2 adapters: /dev/ttyUSB2 (serial:FT4X:0), /dev/ttyUSB3 (serial:FT4X:1)") == true)
        let empty = #expect(throws: AdapterResolutionError.self) { try AdapterMatcher(parsing: "/dev/ttyUSB*").resolve(in: []) }
        #expect(empty?.description.contains("no serial adapter is present") == true)
    }

    @Test func stableNamesPreferTheSerialNumberThenThePort() {
        #expect(present.map(\.stableName) == ["serial:AH06W0EQ", "/dev/serial/by-path/pci-0000:00:14.0-usb-0:3:1.0-port0",
                                              "serial:FT4X:0", "serial:FT4X:1"])
        var bare = SerialAdapter(node: "/dev/ttyS0", sysPath: "/sys/devices/platform/serial8250/tty/ttyS0")
        #expect(bare.stableName == "/dev/ttyS0")
        bare.chip = SerialChip.named(vendorID: nil, productID: nil, driver: "cdc_acm")
        #expect(bare.chip == "CDC-ACM")
    }
}
