/// JSON as scripts want it: ids in hex as lsusb prints them, absent fields left out,
/// and the stable name to paste into configuration.
extension SerialAdapter: Codable {
    enum CodingKeys: String, CodingKey {
        case node, sysPath, byID, byPath, vendorID, productID, vendor, product, serial, interface, driver, chip, bus, latencyTimer, stableName
    }

    /// Reads the JSON that ``SerialAdapter/encode(to:)`` writes; `stableName` is
    /// derived, so it is not read back.
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(node: try values.decode(String.self, forKey: .node), sysPath: try values.decode(String.self, forKey: .sysPath))
        byID = try values.decodeIfPresent([String].self, forKey: .byID) ?? []
        byPath = try values.decodeIfPresent(String.self, forKey: .byPath)
        vendorID = try values.decodeIfPresent(String.self, forKey: .vendorID).flatMap { UInt16($0, radix: 16) }
        productID = try values.decodeIfPresent(String.self, forKey: .productID).flatMap { UInt16($0, radix: 16) }
        vendor = try values.decodeIfPresent(String.self, forKey: .vendor)
        product = try values.decodeIfPresent(String.self, forKey: .product)
        serial = try values.decodeIfPresent(String.self, forKey: .serial)
        interface = try values.decodeIfPresent(Int.self, forKey: .interface)
        driver = try values.decodeIfPresent(String.self, forKey: .driver)
        chip = try values.decodeIfPresent(String.self, forKey: .chip)
        bus = try values.decodeIfPresent(String.self, forKey: .bus)
        latencyTimer = try values.decodeIfPresent(Int.self, forKey: .latencyTimer)
    }

    /// Writes ids in hex, leaves absent fields out, and adds `stableName`.
    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(node, forKey: .node)
        try values.encode(sysPath, forKey: .sysPath)
        try values.encode(byID, forKey: .byID)
        try values.encodeIfPresent(byPath, forKey: .byPath)
        try values.encodeIfPresent(vendorID.map(hex4), forKey: .vendorID)
        try values.encodeIfPresent(productID.map(hex4), forKey: .productID)
        try values.encodeIfPresent(vendor, forKey: .vendor)
        try values.encodeIfPresent(product, forKey: .product)
        try values.encodeIfPresent(serial, forKey: .serial)
        try values.encodeIfPresent(interface, forKey: .interface)
        try values.encodeIfPresent(driver, forKey: .driver)
        try values.encodeIfPresent(chip, forKey: .chip)
        try values.encodeIfPresent(bus, forKey: .bus)
        try values.encodeIfPresent(latencyTimer, forKey: .latencyTimer)
        try values.encode(stableName, forKey: .stableName)
    }
}
