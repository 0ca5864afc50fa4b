import NIOCore

/// The Logix tag services on a tag's path: Read Tag 0x4C, Write Tag 0x4D,
/// Read/Write Tag Fragmented 0x52/0x53, Read-Modify-Write 0x4E, on whole
/// tags, elements, structure members and their elements.
struct LogixServices {
    static let readTag: UInt8 = 0x4C
    static let writeTag: UInt8 = 0x4D
    static let readModifyWrite: UInt8 = 0x4E
    static let readFragmented: UInt8 = 0x52
    static let writeFragmented: UInt8 = 0x53

    /// What a path names: bytes of a tag from `start`, of `type`, with
    /// `available` elements from there to the end of the array (1 if none);
    /// `bit` for a BOOL member of a structure.
    struct Target {
        let tag: Tag
        var type: DataType
        var start = 0
        var available = 1
        var bit: Int?
    }

    let tags: TagTable
    var report: (@Sendable (String) -> Void)?

    /// `91 name` with elements and `91 member` segments, or class 0x6B
    /// instance N first (how pycomm3 addresses tags from revision 21).
    func resolve(_ path: CIPPath) throws(CIPStatus) -> Target {
        var segments = path.segments[...]
        let tag: Tag?
        switch (segments.popFirst(), segments.first) {
        case (.symbol(let program)?, .symbol(let name)?) where program.lowercased().hasPrefix("program:"):
            segments.removeFirst()
            tag = tags.tag(named: program + "." + name)
        case (.symbol(let name)?, _): tag = tags.tag(named: name)
        case (.classID(0x6B)?, .instance(let id)?): segments.removeFirst(); tag = tags.tag(instance: id)
        default: throw .pathSegmentError
        }
        guard let tag else { throw .pathDestinationUnknown }
        var target = Target(tag: tag, type: tag.type)
        var dimensions = tag.dimensions
        var indices: [UInt32] = []
        for segment in segments {
            switch segment {
            case .element(let index):
                indices.append(index)
            case .symbol(let name):
                try descend(&target, dimensions: dimensions, indices: indices)
                guard case .structure(let template) = target.type, let member = template.member(named: name) else { throw .pathDestinationUnknown }
                target.start += member.offset
                target.type = member.type
                target.bit = member.bit
                dimensions = member.count > 0 ? [member.count] : []
                indices = []
            default:
                throw .pathSegmentError
            }
        }
        try descend(&target, dimensions: dimensions, indices: indices)
        return target
    }

    /// Moves `target` to the element `indices` name (the rest 0) of an array of `dimensions`.
    private func descend(_ target: inout Target, dimensions: [Int], indices: [UInt32]) throws(CIPStatus) {
        guard indices.count <= dimensions.count else { throw .pathSegmentError }
        var flat = 0
        for (position, size) in dimensions.enumerated() {
            let index = position < indices.count ? Int(indices[position]) : 0
            guard index < size else { throw .pathDestinationUnknown }
            flat = flat * size + index
        }
        target.start += flat * target.type.size
        target.available = dimensions.reduce(1, *) - flat
    }

    /// `limit`: the most bytes the reply's CIP message may hold. A write to
    /// a tag with a source waits for it, on `eventLoop`.
    func serve(_ request: CIPRequest, limit: Int, on eventLoop: (any EventLoop)?) throws(CIPStatus) -> Answer<CIPReply> {
        let target = try resolve(request.path)
        let forced = target.tag.error
        guard forced == 0 else { throw CIPStatus(forced) }
        var reader = WireReader(request.data)
        if let report, let line = Self.describe(request) { report(line) }
        switch request.service {
        case Self.readTag:
            let count = Int(try reader.u16())
            return .now(try hooked(target, count: count, offset: 0) { () throws(CIPStatus) in
                try read(target, count: count, offset: 0, service: request.service, limit: limit)
            })
        case Self.readFragmented:
            let count = Int(try reader.u16())
            let offset = Int(try reader.u32())
            return .now(try hooked(target, count: count, offset: offset) { () throws(CIPStatus) in
                try read(target, count: count, offset: offset, service: request.service, limit: limit)
            })
        case Self.writeTag, Self.writeFragmented:
            return try write(target, service: request.service, reader: &reader, on: eventLoop)
        case Self.readModifyWrite:
            guard target.tag.source == nil else { throw .serviceNotSupported }
            return .now(try modify(target, reader: &reader))
        default:
            throw .serviceNotSupported
        }
    }

    /// The tag's elements holding `count` elements of the target.
    private static func elements(_ target: Target, count: Int) -> Range<Int> {
        elements(of: target.tag, bytes: target.start, count: max(count, 1) * target.type.size)
    }

    /// The tag's elements holding `count` bytes from byte `start`.
    private static func elements(of tag: Tag, bytes start: Int, count: Int) -> Range<Int> {
        let size = tag.type.size
        return (start / size)..<((start + max(count, 1) - 1) / size + 1)
    }

    /// A read with the tag's hook around it: `willRead` for the elements
    /// asked, `didRead` for those this reply carries (a fragment's, or what
    /// fits before a partial transfer) with their bytes.
    private func hooked(_ target: Target, count: Int, offset: Int, _ read: () throws(CIPStatus) -> CIPReply) throws(CIPStatus) -> CIPReply {
        guard target.tag.hook != nil else { return try read() }
        return try target.tag.withHook { hook throws(CIPStatus) in
            try hook.willRead(target.tag, elements: Self.elements(target, count: count))
            let reply = try read()
            let sent = Array(reply.data.dropFirst(target.type.typeBytes.count))
            guard target.bit == nil, !sent.isEmpty else {
                hook.didRead(target.tag, elements: Self.elements(target, count: 1), bytes: sent)
                return reply
            }
            hook.didRead(target.tag, elements: Self.elements(of: target.tag, bytes: target.start + offset, count: sent.count), bytes: sent)
            return reply
        }!
    }

    /// A request as `enip-server --print` shows it: `SCADA[3] x10 ==` (read)
    /// or `SCADA[1] <= [99]` (write, atomic values shown).
    static func describe(_ request: CIPRequest) -> String? {
        var path = ""
        for segment in request.path.segments {
            switch segment {
            case .symbol(let name): path += (path.isEmpty ? "" : ".") + name
            case .element(let index): path += "[\(index)]"
            case .instance(let id): path += "@\(id)"
            default: break
            }
        }
        var reader = WireReader(request.data)
        switch request.service {
        case readTag, readFragmented:
            return "\(path) x\((try? reader.u16()) ?? 0) read"
        case writeTag, writeFragmented:
            guard let code = try? reader.u16(), let count = try? reader.u16() else { return nil }
            if request.service == writeFragmented { _ = try? reader.u32() }
            let values = CIPType(rawValue: code).map { "[" + $0.values(reader.rest).joined(separator: ", ") + "]" } ?? "\(reader.remaining) bytes"
            return "\(path) x\(count) <= \(values)"
        default:
            return nil
        }
    }

    /// `count` bytes of the target's tag from `start`: from memory, or from its source's snapshot.
    private func bytes(_ target: Target, at start: Int, count: Int) throws(CIPStatus) -> [UInt8] {
        guard let source = target.tag.source else { return target.tag.bytes(at: start, count: count) }
        let all = try source.snapshot()
        guard start + count <= all.count else { throw .pathDestinationUnknown }
        return Array(all[start..<start + count])
    }

    /// Whole elements while they fit; 0x06 (partial) with what fits when the
    /// rest must be asked for again from a byte offset.
    private func read(_ target: Target, count: Int, offset: Int, service: UInt8, limit: Int) throws(CIPStatus) -> CIPReply {
        let count = max(count, 1)
        guard count <= target.available else { throw .elementsPastEnd }
        var data = target.type.typeBytes
        if let bit = target.bit {
            data.append(try bytes(target, at: target.start, count: 1)[0] >> bit & 1 != 0 ? 1 : 0)
            return CIPReply(service: service, data: data)
        }
        let total = count * target.type.size
        guard offset <= total else { throw .offsetPastEnd }
        let unit = target.type.size
        let room = max(limit - 4 - data.count, unit)
        let fits = min(total - offset, room / unit * unit)
        data += try bytes(target, at: target.start + offset, count: fits)
        return CIPReply(service: service, status: offset + fits < total ? .partialTransfer : .success, data: data)
    }

    private func write(_ target: Target, service: UInt8, reader: inout WireReader, on eventLoop: (any EventLoop)?) throws(CIPStatus) -> Answer<CIPReply> {
        var type = [try reader.u8(), try reader.u8()]
        if type == [0xA0, 0x02] { type += [try reader.u8(), try reader.u8()] }
        let bool = DataType.atomic(.bool).typeBytes
        guard type == target.type.typeBytes || (target.bit != nil && type == bool) else { throw .typeMismatch }
        let count = Int(try reader.u16())
        let offset = service == Self.writeFragmented ? Int(try reader.u32()) : 0
        var data = reader.rest
        let total = count * target.type.size
        guard count <= target.available else { throw .elementsPastEnd }
        guard offset <= total else { throw .offsetPastEnd }
        if service == Self.writeTag {
            // pycomm3 1.2 sends a single element's write with the request
            // repeated after it; a controller takes the first `total` bytes.
            guard data.count >= total else { throw .notEnoughData }
            data = data.prefix(total)
        } else {
            guard offset + data.count <= total else { throw .tooMuchData }
        }
        guard !target.tag.readOnly else { throw .privilegeViolation }
        if let source = target.tag.source {
            guard let eventLoop else { throw .serviceNotSupported }
            var stored = Array(data)
            if let bit = target.bit {
                let old = try bytes(target, at: target.start, count: 1)[0]
                stored = [data.first != 0 ? old | 1 << bit : old & ~(1 << bit)]
            }
            return .later(source.store(stored, at: target.start + offset, on: eventLoop)
                .map { CIPReply(service: service) }
                .recover { CIPReply(service: service, status: $0 as? CIPStatus ?? CIPStatus(0xFF)) })
        }
        if let bit = target.bit {
            let on = data.first != 0
            target.tag.modify(at: target.start, or: [on ? 1 << bit : 0], and: [on ? 0xFF : ~(1 << bit)])
        } else if case .atomic(.bool) = target.type {
            target.tag.store(data.map { $0 != 0 ? 1 : 0 }, at: target.start + offset)
        } else {
            target.tag.store(data, at: target.start + offset)
        }
        _ = try target.tag.withHook { hook in
            // A fragment names the elements it carries, as cpppo's __setitem__ sees each fragment's slice.
            hook.didWrite(target.tag, elements: Self.elements(of: target.tag, bytes: target.start + offset, count: data.count), bytes: Array(data))
        }
        return .now(CIPReply(service: service))
    }

    /// pycomm3 sends an 8-byte AND mask whatever the mask size: only the
    /// first `size` bytes of each mask count.
    private func modify(_ target: Target, reader: inout WireReader) throws(CIPStatus) -> CIPReply {
        let size = Int(try reader.u16())
        guard case .atomic = target.type, target.bit == nil, [1, 2, 4, 8].contains(size), size <= target.type.size else { throw .typeMismatch }
        let orMask = try reader.take(size)
        let andMask = try reader.take(size)
        guard !target.tag.readOnly else { throw .privilegeViolation }
        target.tag.modify(at: target.start, or: orMask, and: andMask)
        _ = try target.tag.withHook { hook in
            let elements = Self.elements(target, count: 1)
            let size = target.tag.type.size
            hook.didWrite(target.tag, elements: elements, bytes: target.tag.bytes(at: elements.lowerBound * size, count: elements.count * size))
        }
        return CIPReply(service: Self.readModifyWrite)
    }
}
