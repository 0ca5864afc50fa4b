#if canImport(Glibc)
import Glibc
#endif
import CUdev

/// A libudev context and what is read through it. libudev objects are not
/// thread-safe: a context is created, used and released on one thread.
final class UdevContext {
    let handle: OpaquePointer

    init?() {
        guard let handle = udev_new() else { return nil }
        self.handle = handle
    }

    deinit { udev_unref(handle) }

    /// Every serial adapter in the tty subsystem, virtual ttys and phantom 8250 ports left out.
    func adapters() -> [SerialAdapter] {
        guard let enumerate = udev_enumerate_new(handle) else { return [] }
        defer { udev_enumerate_unref(enumerate) }
        udev_enumerate_add_match_subsystem(enumerate, "tty")
        udev_enumerate_scan_devices(enumerate)
        var found: [SerialAdapter] = []
        // udev_list_entry_foreach is a macro; walk the list by hand.
        var entry = udev_enumerate_get_list_entry(enumerate)
        while let current = entry {
            if let path = udev_list_entry_get_name(current),
               let device = udev_device_new_from_syspath(handle, path) {
                if let adapter = Self.adapter(from: device) { found.append(adapter) }
                udev_device_unref(device)
            }
            entry = udev_list_entry_get_next(current)
        }
        return found.sorted { $0.node < $1.node }
    }

    /// The adapter a tty device stands for, or nil for a virtual or phantom one.
    static func adapter(from device: OpaquePointer) -> SerialAdapter? {
        guard let node = string(udev_device_get_devnode(device)), let sysPath = string(udev_device_get_syspath(device)) else {
            return nil
        }
        guard !sysPath.contains("/devices/virtual/"), let parent = udev_device_get_parent(device) else { return nil }
        // A serial_core port whose UART type is PORT_UNKNOWN is a phantom: the
        // 8250 driver makes ttyS0–ttyS31 whether or not the hardware is there.
        if attribute(device, "type") == "0" { return nil }
        let (parentDriver, parentBus) = driver(above: parent)
        var adapter = SerialAdapter(node: node, sysPath: sysPath)
        adapter.bus = property(device, "ID_BUS") ?? parentBus
        readUSB(device, into: &adapter)
        adapter.driver = property(device, "ID_USB_DRIVER") ?? parentDriver
        adapter.chip = SerialChip.named(vendorID: adapter.vendorID, productID: adapter.productID, driver: adapter.driver)
        readLinks(device, into: &adapter)
        adapter.latencyTimer = udev_device_get_parent(device).flatMap { attribute($0, "latency_timer") }.flatMap { Int($0) }
        return adapter
    }

    /// Writes an FTDI adapter's latency_timer (on its usb-serial device) and returns what it reads back.
    func setLatencyTimer(_ milliseconds: Int, sysPath: String) -> Int? {
        guard let device = udev_device_new_from_syspath(handle, sysPath) else { return nil }
        defer { udev_device_unref(device) }
        guard let parent = udev_device_get_parent(device), Self.attribute(parent, "latency_timer") != nil else { return nil }
        var value = Array("\(milliseconds)".utf8CString)
        guard udev_device_set_sysattr_value(parent, "latency_timer", &value) >= 0 else { return nil }
        return Self.attribute(parent, "latency_timer").flatMap { Int($0) }
    }

    /// Vendor, product, serial and interface: udev's ID_* properties where udevd
    /// has run, else the USB parents' sysfs attributes (as pyserial reads them).
    private static func readUSB(_ device: OpaquePointer, into adapter: inout SerialAdapter) {
        let usbDevice = udev_device_get_parent_with_subsystem_devtype(device, "usb", "usb_device")
        let usbInterface = udev_device_get_parent_with_subsystem_devtype(device, "usb", "usb_interface")
        guard usbDevice != nil || property(device, "ID_VENDOR_ID") != nil else { return }
        adapter.bus = "usb"
        let vendorID = property(device, "ID_VENDOR_ID") ?? usbDevice.flatMap { attribute($0, "idVendor") }
        let productID = property(device, "ID_MODEL_ID") ?? usbDevice.flatMap { attribute($0, "idProduct") }
        adapter.vendorID = vendorID.flatMap { UInt16($0, radix: 16) }
        adapter.productID = productID.flatMap { UInt16($0, radix: 16) }
        adapter.vendor = usbDevice.flatMap { attribute($0, "manufacturer") } ?? property(device, "ID_VENDOR")
        adapter.product = usbDevice.flatMap { attribute($0, "product") } ?? property(device, "ID_MODEL")
        adapter.serial = property(device, "ID_SERIAL_SHORT") ?? usbDevice.flatMap { attribute($0, "serial") }
        let interface = property(device, "ID_USB_INTERFACE_NUM") ?? usbInterface.flatMap { attribute($0, "bInterfaceNumber") }
        adapter.interface = interface.flatMap { Int($0, radix: 16) }
        if adapter.driver == nil, let usbInterface { adapter.driver = string(udev_device_get_driver(usbInterface)) }
    }

    /// by-id and by-path links: udev's list where udevd made them, else whatever
    /// /dev/serial holds that points at this node.
    private static func readLinks(_ device: OpaquePointer, into adapter: inout SerialAdapter) {
        var links: [String] = []
        var entry = udev_device_get_devlinks_list_entry(device)
        while let current = entry {
            if let name = string(udev_list_entry_get_name(current)) { links.append(name) }
            entry = udev_list_entry_get_next(current)
        }
        if links.isEmpty { links = SerialLinks.pointing(at: adapter.name) }
        adapter.byID = links.filter { $0.hasPrefix("/dev/serial/by-id/") }.sorted()
        adapter.byPath = links.filter { $0.hasPrefix("/dev/serial/by-path/") }.sorted().first ?? computedPath(device)
    }

    /// The by-path link udev's rules would make (path_id, then "-portN" for a
    /// usb-serial port), so that configuration naming a USB port works where
    /// no udevd made links. Nil for anything but USB.
    private static func computedPath(_ device: OpaquePointer) -> String? {
        guard let interface = udev_device_get_parent_with_subsystem_devtype(device, "usb", "usb_interface"),
              let interfacePath = string(udev_device_get_syspath(interface)) else { return nil }
        let parts = interfacePath.split(separator: "/")
        // .../0000:00:14.0/usb1/1-2.4/1-2.4:1.0: the controller, then "bus-ports:config.interface".
        guard let last = parts.last, let dash = last.firstIndex(of: "-"),
              let controller = parts.last(where: { $0.count == 12 && $0.filter { $0 == ":" }.count == 2 && $0.contains(".") }) else {
            return nil
        }
        var path = "/dev/serial/by-path/pci-\(controller)-usb-0:\(last[last.index(after: dash)...])"
        if let parent = udev_device_get_parent(device), string(udev_device_get_subsystem(parent)) == "usb-serial" {
            path += "-port\(attribute(parent, "port_number") ?? "0")"
        }
        return path
    }

    /// The first driver from `parent` up, and its bus, skipping serial-base's
    /// generic "port" and "ctrl" devices (kernel 6.5 and later).
    private static func driver(above parent: OpaquePointer) -> (driver: String?, bus: String?) {
        var next: OpaquePointer? = parent
        for _ in 0..<4 {
            guard let current = next else { break }
            if let name = string(udev_device_get_driver(current)), name != "port", name != "ctrl" {
                return (name, string(udev_device_get_subsystem(current)))
            }
            next = udev_device_get_parent(current)
        }
        return (nil, string(udev_device_get_subsystem(parent)))
    }

    static func property(_ device: OpaquePointer, _ name: String) -> String? {
        string(udev_device_get_property_value(device, name)).flatMap { $0.isEmpty ? nil : $0 }
    }

    static func attribute(_ device: OpaquePointer, _ name: String) -> String? {
        string(udev_device_get_sysattr_value(device, name)).map { text in
            String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
        }
    }

    static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}

/// The links under /dev/serial, read directly where no udev database lists them.
enum SerialLinks {
    static func pointing(at name: String) -> [String] {
        ["/dev/serial/by-id", "/dev/serial/by-path"].flatMap { directory in
            entries(of: directory).filter { target(of: "\(directory)/\($0)") == name }.map { "\(directory)/\($0)" }
        }
    }

    private static func entries(of directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The last part of what a link points to: the device's kernel name.
    private static func target(of link: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(link, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "/").last.map(String.init)
    }
}
