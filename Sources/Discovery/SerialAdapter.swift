/// A serial device the system offers: a USB adapter, a built-in UART, a CDC-ACM device.
public struct SerialAdapter: Sendable, Hashable {
    /// The device node, e.g. /dev/ttyUSB0. It changes from plug to plug: name
    /// the adapter by `serial`, `byID` or `byPath` instead.
    public var node: String
    /// The kernel's path in sysfs, unique while it is plugged.
    public var sysPath: String
    /// /dev/serial/by-id links (built from vendor, product, serial and interface).
    public var byID: [String] = []
    /// The /dev/serial/by-path link (the USB port it is plugged into).
    public var byPath: String?
    /// The USB vendor id (0x0403 for FTDI); nil for a device not on USB.
    public var vendorID: UInt16?
    /// The USB product id (0x6001 for an FT232R); nil for a device not on USB.
    public var productID: UInt16?
    /// The maker as the device itself reports it ("FTDI").
    public var vendor: String?
    /// The product as the device itself reports it ("USB-RS485 Cable").
    public var product: String?
    /// The USB serial number: the best name for configuration, where the chip
    /// has one (a CH340 has none).
    public var serial: String?
    /// The USB interface number: which port of a multi-port chip (FT2232, FT4232H).
    public var interface: Int?
    /// The kernel driver serving the device (ftdi_sio, ch341, cdc_acm, 8250).
    public var driver: String?
    /// The chip, when its vendor and product ids are known ("FTDI FT232R").
    public var chip: String?
    /// The bus the device hangs on: usb, pci, platform, …
    public var bus: String?
    /// An FTDI adapter's receive latency timer in ms (16 by default; 1 for Modbus).
    public var latencyTimer: Int?

    /// An adapter known only by its node and sysfs path; discovery fills in the rest.
    public init(node: String, sysPath: String) {
        self.node = node
        self.sysPath = sysPath
    }

    /// The kernel name: ttyUSB0.
    public var name: String { String(node.split(separator: "/").last ?? Substring(node)) }

    /// vid:pid as lsusb prints it, e.g. 0403:6001.
    public var usbID: String? {
        guard let vendorID, let productID else { return nil }
        return "\(hex4(vendorID)):\(hex4(productID))"
    }

    /// The most stable name for configuration, as an `AdapterMatcher` reads it:
    /// the serial number (with the interface on a multi-port chip), else the
    /// by-path link (the USB port), else the node.
    public var stableName: String {
        if let serial {
            if let interface, hasSeveralPorts { return "serial:\(serial):\(interface)" }
            return "serial:\(serial)"
        }
        return byPath ?? node
    }

    private var hasSeveralPorts: Bool { vendorID == 0x0403 && (productID == 0x6010 || productID == 0x6011) }
}

func hex4(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 4 - digits.count) + digits
}
