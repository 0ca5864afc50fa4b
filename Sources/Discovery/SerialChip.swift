/// USB serial chips worth naming, by USB vendor and product id.
public struct SerialChip: Sendable, Hashable {
    /// The USB vendor id.
    public let vendorID: UInt16
    /// The USB product id.
    public let productID: UInt16
    /// The maker and model, as ``SerialAdapter/chip`` shows it ("FTDI FT232R").
    public let name: String
    /// The kernel driver that serves it.
    public let driver: String
    /// Whether the chip carries a serial number (a CH340 has none: name it by path).
    public let hasSerialNumber: Bool

    /// The chips fieldgw names: FTDI, WCH, Silicon Labs and Prolific USB serial
    /// converters.
    public static let known: [SerialChip] = [
        SerialChip(vendorID: 0x0403, productID: 0x6001, name: "FTDI FT232R", driver: "ftdi_sio", hasSerialNumber: true),
        SerialChip(vendorID: 0x0403, productID: 0x6010, name: "FTDI FT2232", driver: "ftdi_sio", hasSerialNumber: true),
        SerialChip(vendorID: 0x0403, productID: 0x6011, name: "FTDI FT4232H", driver: "ftdi_sio", hasSerialNumber: true),
        SerialChip(vendorID: 0x0403, productID: 0x6014, name: "FTDI FT232H", driver: "ftdi_sio", hasSerialNumber: true),
        SerialChip(vendorID: 0x0403, productID: 0x6015, name: "FTDI FT-X", driver: "ftdi_sio", hasSerialNumber: true),
        SerialChip(vendorID: 0x1A86, productID: 0x7523, name: "WCH CH340", driver: "ch341", hasSerialNumber: false),
        SerialChip(vendorID: 0x10C4, productID: 0xEA60, name: "Silicon Labs CP210x", driver: "cp210x", hasSerialNumber: true),
        SerialChip(vendorID: 0x067B, productID: 0x2303, name: "Prolific PL2303", driver: "pl2303", hasSerialNumber: false),
    ]

    /// Any CDC-ACM device (a USB modem class device: many PLCs and Arduinos).
    public static let cdcACMName = "CDC-ACM"

    /// The chip's name for these ids, ``SerialChip/cdcACMName`` for any device on
    /// the cdc_acm driver, or nil for a chip not in ``SerialChip/known``.
    public static func named(vendorID: UInt16?, productID: UInt16?, driver: String?) -> String? {
        if let vendorID, let productID,
           let chip = known.first(where: { $0.vendorID == vendorID && $0.productID == productID }) {
            return chip.name
        }
        return driver == "cdc_acm" ? cdcACMName : nil
    }
}
