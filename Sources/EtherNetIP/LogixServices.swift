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
    /// Whether reads are reported too (cpppo prints them only with -v).
    var reportReads = false
    /// Whether a write of a narrower type is converted to the tag's (cpppo's way), not refused.
    var widen = false

    /// Whether `service` is one of these, which a numeric tag address takes too.
    static func isTagService(_ service: UInt8) -> Bool {
        [readTag, writeTag, readModifyWrite, readFragmented, writeFragmented].contains(service)
    }

    /// `91 name` with elements and `91 member` segments, class 0x6B
    /// instance N first (how pycomm3 addresses tags from revision 21), or
    /// the attribute a tag is placed at (`@2/1/N`, as cpppo places them).
    func resolve(_ path: CIPPath) throws(CIPStatus) -> Target {
        var segments = path.segments[...]
        let tag: Tag?
        if let placed = tags.attributeTag(path) {
            segments = segments.dropFirst(3)
            guard segments.allSatisfy({ if case .element = $0 { true } else { false } }) else { throw .pathSegmentError }
            tag = placed
        } else {
            tag = try named(&segments)
        }
        guard let tag else { throw .pathDestinationUnknown }
        return try descend(tag, through: segments)
    }

    /// The tag named by the first segments, which are taken from `segments`.
    private func named(_ segments: inout ArraySlice<CIPPath.Segment>) throws(CIPStatus) -> Tag? {
        switch (segments.popFirst(), segments.first) {
        case (.symbol(let program)?, .symbol(let name)?) where program.lowercased().hasPrefix("program:"):
            segments.removeFirst()
            return tags.tag(named: program + "." + name)
        case (.symbol(let name)?, _): return tags.tag(named: name)
        case (.classID(0x6B)?, .instance(let id)?): segments.removeFirst(); return tags.tag(instance: id)
        default: throw .pathSegmentError
        }
    }

    /// The target `segments` (elements, members) name within `tag`.
    private func descend(_ tag: Tag, through segments: ArraySlice<CIPPath.Segment>) throws(CIPStatus) -> Target {
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
        let line = report == nil ? nil : describe(request, target)
        switch request.service {
        case Self.readTag:
            if let line { report?(line) }
            let count = Int(try reader.u16())
            return .now(try hooked(target, count: count, offset: 0) { () throws(CIPStatus) in
                try read(target, count: count, offset: 0, service: request.service, limit: limit)
            })
        case Self.readFragmented:
            if let line { report?(line) }
            let count = Int(try reader.u16())
            let offset = Int(try reader.u32())
            return .now(try hooked(target, count: count, offset: offset) { () throws(CIPStatus) in
                try read(target, count: count, offset: offset, service: request.service, limit: limit)
            })
        case Self.writeTag, Self.writeFragmented:
            return reported(try write(target, service: request.service, reader: &reader, on: eventLoop), line)
        case Self.readModifyWrite:
            guard target.tag.source == nil else { throw .serviceNotSupported }
            return .now(try modify(target, reader: &reader))
        default:
            throw .serviceNotSupported
        }
    }

    /// `answer`, with `line` reported once the write it answers is done, as cpppo prints after storing.
    private func reported(_ answer: Answer<CIPReply>, _ line: String?) -> Answer<CIPReply> {
        guard let report, let line else { return answer }
        switch answer {
        case .now(let reply): if reply.status == .success { report(line) }
        case .later(let reply): reply.whenSuccess { if $0.status == .success { report(line) } }
        }
        return answer
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

    /// A request as cpppo's server prints it (`enip-server --print`):
    /// `               SCADA[    1-2    ] <= [5, 6] ` for a write, and
    /// `               SCADA[    0-9    ] == [0, 5, …]` for a read when
    /// reads are reported. A member shows its path: `Pumps[1].Counts[    2-2    ]`.
    func describe(_ request: CIPRequest, _ target: Target) -> String? {
        var reader = WireReader(request.data)
        let write = request.service == Self.writeTag || request.service == Self.writeFragmented
        guard write || (reportReads && (request.service == Self.readTag || request.service == Self.readFragmented)) else { return nil }
        let written = write ? (try? reader.u16()).flatMap { CIPType(rawValue: $0) } : nil
        var count = max(Int((try? reader.u16()) ?? 1), 1)
        let fragmented = request.service == Self.writeFragmented || request.service == Self.readFragmented
        let size = max(target.type.size, 1)
        // A fragment shows the elements it carries, as cpppo's does.
        let skipped = fragmented ? Int((try? reader.u32()) ?? 0) / size : 0
        count = max(min(count, target.available) - skipped, 1)
        let member = target.type != target.tag.type || target.bit != nil
        let first = (member ? Self.lastIndex(request.path) : target.start / max(target.tag.type.size, 1)) + skipped
        let name = member ? Self.memberName(request.path) : target.tag.name
        let values: [String]
        if write {
            // The values as sent: of a narrower type when widened.
            count = max(reader.remaining / (written?.size ?? size), 1)
            values = written.map { $0.pythonValues(reader.rest) } ?? ["\(reader.remaining) bytes"]
        } else {
            let bytes = (try? self.bytes(target, at: target.start + skipped * size, count: count * size)) ?? []
            values = target.type.atomic.map { $0.pythonValues(bytes[...]) } ?? ["\(bytes.count) bytes"]
        }
        let range = "[\(TagResult.right("\(first)", 5))-\(TagResult.left("\(first + count - 1)", 5))]"
        let shown = "[" + values.joined(separator: ", ") + "]"
        return TagResult.right(name, 20) + range + (write ? " <= \(shown) " : " == \(shown)")
    }

    /// The last element index of a path (0 when none).
    private static func lastIndex(_ path: CIPPath) -> Int {
        path.segments.reversed().lazy.compactMap { if case .element(let index) = $0 { Int(index) } else { nil } }.first ?? 0
    }

    /// `Pumps[1].Counts`: a member's path, less its last element.
    private static func memberName(_ path: CIPPath) -> String {
        var text = ""
        let last = path.segments.lastIndex { if case .element = $0 { true } else { false } }
        for (position, segment) in path.segments.enumerated() {
            switch segment {
            case .symbol(let name): text += (text.isEmpty ? "" : ".") + name
            case .element(let index) where position != last: text += "[\(index)]"
            default: break
            }
        }
        return text
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
        let count = Int(try reader.u16())
        var offset = service == Self.writeFragmented ? Int(try reader.u32()) : 0
        var data = reader.rest
        let bool = DataType.atomic(.bool).typeBytes
        if type != target.type.typeBytes && !(target.bit != nil && type == bool) {
            // Only with --widen-writes (cpppo's way): a narrower type's values, converted.
            guard widen, let from = CIPType(rawValue: UInt16(type[0]) | UInt16(type[1]) << 8), target.bit == nil,
                  let to = target.type.atomic, let wider = to.widened(data, from: from) else { throw .typeMismatch }
            offset = offset / from.size * to.size
            data = wider[...]
        }
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
