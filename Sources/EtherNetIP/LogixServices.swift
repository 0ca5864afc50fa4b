/// The Logix tag services on a tag's path: Read Tag 0x4C, Write Tag 0x4D,
/// Read/Write Tag Fragmented 0x52/0x53, Read-Modify-Write 0x4E.
struct LogixServices {
    static let readTag: UInt8 = 0x4C
    static let writeTag: UInt8 = 0x4D
    static let readModifyWrite: UInt8 = 0x4E
    static let readFragmented: UInt8 = 0x52
    static let writeFragmented: UInt8 = 0x53

    let tags: TagTable

    /// The tag and first element a path names: `91 name` with elements, or
    /// class 0x6B instance N (how pycomm3 addresses tags from revision 21).
    func resolve(_ path: CIPPath) throws(CIPStatus) -> (Tag, Int) {
        var tag: Tag?
        var indices: [UInt32] = []
        var symbolClass = false
        for segment in path.segments {
            switch segment {
            case .symbol(let name) where tag == nil: tag = tags.tag(named: name)
                if tag == nil { throw .pathDestinationUnknown }
            case .classID(0x6B) where tag == nil: symbolClass = true
            case .instance(let id) where symbolClass && tag == nil: tag = tags.tag(instance: id)
                if tag == nil { throw .pathDestinationUnknown }
            case .element(let index) where tag != nil: indices.append(index)
            default: throw .pathSegmentError
            }
        }
        guard let tag else { throw .pathSegmentError }
        return (tag, try tag.element(at: indices))
    }

    /// `limit`: the most bytes the reply's CIP message may hold.
    func serve(_ request: CIPRequest, limit: Int) throws(CIPStatus) -> CIPReply {
        let (tag, first) = try resolve(request.path)
        var reader = WireReader(request.data)
        switch request.service {
        case Self.readTag:
            let count = Int(try reader.u16())
            return try read(tag, first: first, count: count, offset: 0, service: request.service, limit: limit)
        case Self.readFragmented:
            let count = Int(try reader.u16())
            return try read(tag, first: first, count: count, offset: Int(try reader.u32()), service: request.service, limit: limit)
        case Self.writeTag, Self.writeFragmented:
            return try write(tag, first: first, request: request, reader: &reader)
        case Self.readModifyWrite:
            return try modify(tag, element: first, reader: &reader)
        default:
            throw .serviceNotSupported
        }
    }

    /// Whole elements while they fit; 0x06 (partial) with what fits when the
    /// rest must be asked for again from a byte offset.
    private func read(_ tag: Tag, first: Int, count: Int, offset: Int, service: UInt8, limit: Int) throws(CIPStatus) -> CIPReply {
        let bytes = try tag.read(first: first, count: max(count, 1))
        guard offset <= bytes.count else { throw .offsetPastEnd }
        let room = max(limit - 4 - 2, tag.type.size)
        let fits = min(bytes.count - offset, room / tag.type.size * tag.type.size)
        var data: [UInt8] = []
        data.append16(tag.type.rawValue)
        data += bytes[offset..<offset + fits]
        return CIPReply(service: service, status: offset + fits < bytes.count ? .partialTransfer : .success, data: data)
    }

    private func write(_ tag: Tag, first: Int, request: CIPRequest, reader: inout WireReader) throws(CIPStatus) -> CIPReply {
        let type = try reader.u16()
        if type == 0x02A0 { _ = try reader.u16() }
        guard type == tag.type.rawValue || (tag.type == .bool && type == CIPType.bool.rawValue) else { throw .typeMismatch }
        let count = Int(try reader.u16())
        let offset = request.service == Self.writeFragmented ? Int(try reader.u32()) : 0
        var data = reader.rest
        let total = count * tag.type.size
        guard first + count <= tag.count else { throw .elementsPastEnd }
        guard offset <= total else { throw .offsetPastEnd }
        if request.service == Self.writeTag {
            // pycomm3 1.2 sends a single element's write with the request
            // repeated after it; a controller takes the first `total` bytes.
            guard data.count >= total else { throw .notEnoughData }
            data = data.prefix(total)
        } else {
            guard offset + data.count <= total else { throw .tooMuchData }
        }
        guard !tag.readOnly else { throw .privilegeViolation }
        try tag.write(first: first, offset: offset, bytes: tag.type == .bool ? data.map { $0 != 0 ? 1 : 0 }[...] : data)
        return CIPReply(service: request.service)
    }

    /// pycomm3 sends an 8-byte AND mask whatever the mask size: only the
    /// first `size` bytes of each mask count.
    private func modify(_ tag: Tag, element: Int, reader: inout WireReader) throws(CIPStatus) -> CIPReply {
        let size = Int(try reader.u16())
        guard [1, 2, 4, 8].contains(size), size <= tag.type.size else { throw .typeMismatch }
        let orMask = try reader.take(size)
        let andMask = try reader.take(size)
        guard !tag.readOnly else { throw .privilegeViolation }
        tag.modify(element: element, or: orMask, and: andMask)
        return CIPReply(service: Self.readModifyWrite)
    }
}
