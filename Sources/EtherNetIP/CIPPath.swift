/// A CIP EPATH, parsed into the segments a Logix controller understands:
/// logical class / instance / attribute / element (8, 16 and 32 bits),
/// ANSI extended symbols (tag and member names), and port segments (routes).
public struct CIPPath: Hashable, Sendable {
    /// One segment of a path.
    public enum Segment: Hashable, Sendable {
        /// A logical class id (0x20 segment): the object class addressed.
        case classID(UInt32)
        /// A logical instance id (0x24 segment) within the class.
        case instance(UInt32)
        /// A logical attribute id (0x30 segment) of the instance.
        case attribute(UInt32)
        /// An array element (0x28 segment): after a symbol, the index into the tag.
        case element(UInt32)
        /// A connection point (an assembly's connection, say).
        case connection(UInt32)
        /// An ANSI extended symbol (0x91 segment): a tag or member name.
        case symbol(String)
        /// A port segment: the port to leave by, and the link address beyond it (a
        /// backplane slot).
        case port(UInt16, link: [UInt8])
    }

    /// The segments in order, outermost first: a tag name, then members and elements.
    public var segments: [Segment]

    /// A path of `segments`.
    public init(_ segments: [Segment]) { self.segments = segments }

    /// A class, instance or attribute number as users write it: decimal,
    /// or 0x hex, 0o octal, 0b binary (as Python's `int(text, 0)`, which cpppo uses).
    static func number(_ text: Substring) -> UInt32? {
        let radixes: [Substring: Int] = ["0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2]
        guard let radix = radixes[text.prefix(2)] else { return UInt32(text) }
        return UInt32(text.dropFirst(2), radix: radix)
    }

    /// `bytes` is exactly the path (its size, in words, read by the caller).
    public init(parsing bytes: ArraySlice<UInt8>) throws(CIPStatus) {
        var reader = WireReader(bytes)
        segments = []
        while reader.remaining > 0 { segments.append(try Self.segment(&reader)) }
    }

    private static func segment(_ reader: inout WireReader) throws(CIPStatus) -> Segment {
        let kind = try reader.u8()
        switch kind {
        case 0x91:
            let length = Int(try reader.u8())
            guard let name = String(validating: try reader.take(length), as: UTF8.self) else { throw .pathSegmentError }
            if length % 2 == 1 { try reader.skip(1) }
            return .symbol(name)
        case 0x01...0x0F, 0x11...0x1F:
            return try port(kind, &reader)
        case 0x20...0x3F:
            return try logical(kind, &reader)
        default:
            throw .pathSegmentError
        }
    }

    private static func logical(_ kind: UInt8, _ reader: inout WireReader) throws(CIPStatus) -> Segment {
        let value: UInt32
        switch kind & 0x03 {
        case 0: value = UInt32(try reader.u8())
        case 1: try reader.skip(1); value = UInt32(try reader.u16())
        case 2: try reader.skip(1); value = try reader.u32()
        default: throw .pathSegmentError
        }
        switch kind & 0x1C {
        case 0x00: return .classID(value)
        case 0x04: return .instance(value)
        case 0x08: return .element(value)
        case 0x0C: return .connection(value)
        case 0x10: return .attribute(value)
        default: throw .pathSegmentError
        }
    }

    private static func port(_ kind: UInt8, _ reader: inout WireReader) throws(CIPStatus) -> Segment {
        var port = UInt16(kind & 0x0F)
        let extended = kind & 0x10 != 0
        let linkLength = extended ? Int(try reader.u8()) : 1
        // Port 0 is reserved: not in the segment byte, nor as an extended port (found by fuzzing).
        if port == 0x0F { port = try reader.u16() }
        guard port != 0 else { throw .pathSegmentError }
        let link = Array(try reader.take(linkLength))
        if extended && linkLength % 2 == 1 { try reader.skip(1) }
        return .port(port, link: link)
    }

    /// The path's bytes (padded, as sent on the wire).
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        for segment in segments {
            switch segment {
            case .classID(let value): Self.logical(0x20, value, &out)
            case .instance(let value): Self.logical(0x24, value, &out)
            case .element(let value): Self.logical(0x28, value, &out)
            case .attribute(let value): Self.logical(0x30, value, &out)
            case .connection(let value): Self.logical(0x2C, value, &out)
            case .symbol(let name):
                out += [0x91, UInt8(name.utf8.count)] + Array(name.utf8)
                if name.utf8.count % 2 == 1 { out.append(0) }
            case .port(let port, let link):
                // Ports 15 and up are 0x0F then the port as 16 bits, after the link size.
                let low = port >= 0x0F ? 0x0F : UInt8(port)
                let wide: [UInt8] = port >= 0x0F ? [UInt8(port & 0xFF), UInt8(port >> 8)] : []
                if link.count == 1 { out += [low] + wide + link } else {
                    out += [low | 0x10, UInt8(link.count)] + wide + link
                    if link.count % 2 == 1 { out.append(0) }
                }
            }
        }
        return out
    }

    private static func logical(_ kind: UInt8, _ value: UInt32, _ out: inout [UInt8]) {
        if value <= 0xFF { out += [kind, UInt8(value)] }
        else if value <= 0xFFFF { out += [kind | 1, 0]; out.append16(UInt16(value)) }
        else { out += [kind | 2, 0]; out.append32(value) }
    }
}

/// A Message Router request: service, path, data.
public struct CIPRequest: Hashable, Sendable {
    /// The service code: Read Tag (0x4C), Write Tag (0x4D), Get Attribute Single (0x0E), …
    public var service: UInt8
    /// The object or tag the service is for.
    public var path: CIPPath
    /// The service's request data, after the path.
    public var data: [UInt8]

    /// A request of `service` to `path` with `data`.
    public init(service: UInt8, path: CIPPath, data: [UInt8] = []) {
        self.service = service
        self.path = path
        self.data = data
    }

    /// Reads a request: service, path size in words, path, data.
    /// - Throws: ``CIPStatus/pathSizeInvalid`` when the path runs past the bytes,
    ///   ``CIPStatus/pathSegmentError`` for a segment it cannot read.
    public init(parsing bytes: ArraySlice<UInt8>) throws(CIPStatus) {
        var reader = WireReader(bytes)
        service = try reader.u8()
        let words = Int(try reader.u8())
        guard reader.remaining >= words * 2 else { throw .pathSizeInvalid }
        path = try CIPPath(parsing: try reader.take(words * 2))
        data = Array(reader.rest)
    }

    /// The request as sent: service, path size in words, padded path, data.
    public var bytes: [UInt8] {
        let path = path.bytes
        return [service, UInt8(path.count / 2)] + path + data
    }
}

/// A Message Router reply: the service with bit 7 set, a status, data.
public struct CIPReply: Hashable, Sendable {
    /// The service answered, without the reply bit (0x80).
    public var service: UInt8
    /// The general status and its extended words.
    public var status: CIPStatus
    /// The reply data: for a read, the type field and the values.
    public var data: [UInt8]
    /// Items the reply's packet carries after the data item: a Class 1
    /// Forward Open's socket addresses.
    public var items: [CommonPacket.Item]

    /// A reply to `service` with `status` and `data`, and `items` after it in its packet.
    public init(service: UInt8, status: CIPStatus = .success, data: [UInt8] = [], items: [CommonPacket.Item] = []) {
        self.service = service
        self.status = status
        self.data = data
        self.items = items
    }

    /// Reads a reply: service, a reserved byte, the general status, the extended
    /// status words, data.
    public init(parsing bytes: ArraySlice<UInt8>) throws(CIPStatus) {
        var reader = WireReader(bytes)
        service = try reader.u8() & 0x7F
        try reader.skip(1)
        let general = try reader.u8()
        let count = Int(try reader.u8())
        var extended: [UInt16] = []
        for _ in 0..<count { extended.append(try reader.u16()) }
        status = CIPStatus(general, extended: extended)
        data = Array(reader.rest)
        items = []
    }

    /// The reply as sent, the service with bit 7 set.
    public var bytes: [UInt8] {
        var out: [UInt8] = [service | 0x80, 0, status.general, UInt8(status.extended.count)]
        for word in status.extended { out.append16(word) }
        return out + data
    }
}
