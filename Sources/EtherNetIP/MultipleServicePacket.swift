/// The body of a Multiple Service Packet (0x0A), request or reply: a count,
/// each part's offset from the count, then the parts. Written and read here
/// only, by the server and the client alike.
enum MultipleServicePacket {
    static func pack(_ parts: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.append16(UInt16(parts.count))
        var offset = 2 + 2 * parts.count
        for part in parts {
            out.append16(UInt16(offset))
            offset += part.count
        }
        for part in parts { out += part }
        return out
    }

    /// The parts, each checked to lie after the offsets and before the next.
    static func unpack(_ data: ArraySlice<UInt8>) throws(CIPStatus) -> [ArraySlice<UInt8>] {
        var reader = WireReader(data)
        let count = Int(try reader.u16())
        var offsets: [Int] = []
        for _ in 0..<count { offsets.append(Int(try reader.u16())) }
        var parts: [ArraySlice<UInt8>] = []
        for (index, offset) in offsets.enumerated() {
            let end = index + 1 < count ? offsets[index + 1] : data.count
            guard offset >= 2 + 2 * count, offset <= end, end <= data.count else { throw .notEnoughData }
            parts.append(data[data.startIndex + offset..<data.startIndex + end])
        }
        return parts
    }
}
