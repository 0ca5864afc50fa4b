/// A structure type (a UDT, or the predefined STRING): members at offsets,
/// and the template (class 0x6C) that pycomm3 and pylogix read to learn it.
public final class Template: Sendable, Hashable {
    /// One member of the structure, as the template describes it.
    public struct Member: Sendable, Hashable {
        /// The member's name; the hidden SINTs that hold BOOLs are named `ZZZZZZZZZZ…`.
        public let name: String
        /// The member's type.
        public let type: DataType
        /// Array elements; 0 for a single value.
        public let count: Int
        /// Its byte offset within the structure.
        public let offset: Int
        /// A BOOL member is one bit of a hidden SINT.
        public let bit: Int?
    }

    /// The type's name: "STRING", or the UDT's.
    public let name: String
    /// The template instance (0x100–0xEFF for a UDT; STRING's is 0xFCE).
    public let id: UInt16
    /// The structure handle: the 16-bit check of the definition that a Read Tag
    /// reply carries after 0x02A0.
    public let handle: UInt16
    /// Bytes per value, padded to the structure's alignment.
    public let size: Int
    /// The members in order, hidden BOOL hosts included.
    public let members: [Member]
    let alignment: Int
    /// What a Read Tag of the template returns: member info, then names.
    let definition: [UInt8]

    init(name: String, id: UInt16, handle: UInt16, size: Int, members: [Member], alignment: Int) {
        self.name = name
        self.id = id
        self.handle = handle
        self.size = size
        self.members = members
        self.alignment = alignment
        self.definition = Template.definition(name: name, members: members)
    }

    /// Member info (array size or bit number, type with the array bit,
    /// offset), then `NAME;n` with two access bytes per member (pylogix
    /// reads them), then the member names, each ending in NUL; zeros fill it
    /// to what attribute 4 promises, so that pylogix, which reads exactly
    /// words × 4 − 20 bytes, and pycomm3 (− 21, tolerating less) both stop.
    private static func definition(name: String, members: [Member]) -> [UInt8] {
        var out: [UInt8] = []
        for member in members {
            out.append16(UInt16(member.bit ?? member.count))
            out.append16(member.type.symbolType | (member.count > 0 ? 0x2000 : 0))
            out.append32(UInt32(member.offset))
        }
        out += Array("\(name);n".utf8)
        for _ in members { out += [0x01, 0x03] }
        out.append(0)
        for member in members { out += Array(member.name.utf8) + [0] }
        let words = (out.count + 20 + 3) / 4
        return out + [UInt8](repeating: 0, count: words * 4 - 20 - out.count)
    }

    /// Attribute 4: the definition's size in 32-bit words, as Logix counts it.
    var definitionWords: UInt32 { UInt32((definition.count + 20) / 4) }

    /// The member of that name, in any case; hidden members are not found.
    public func member(named name: String) -> Member? {
        members.first { $0.name.lowercased() == name.lowercased() && !$0.name.hasPrefix("ZZZZZZZZZZ") }
    }

    /// Lays out `fields` (name, type, array count) as Logix does: each
    /// aligned to its size, consecutive BOOLs packed into hidden SINTs, the
    /// whole rounded up to its largest alignment (at least 4). Unpacked
    /// (`packBools` false), a BOOL has a byte of its own, 0 or 1, which
    /// clients read as bit 0 of it: one coil, one member, one write.
    convenience init(name: String, id: UInt16, fields: [(String, DataType, Int)], packBools: Bool = true) {
        var members: [Member] = []
        var offset = 0
        var alignment = 4
        var host: (offset: Int, bits: Int)?
        for (field, type, count) in fields {
            if case .atomic(.bool) = type, count == 0, !packBools {
                members.append(Member(name: field, type: type, count: 0, offset: offset, bit: 0))
                offset += 1
                continue
            }
            if case .atomic(.bool) = type, count == 0 {
                if host == nil || host!.bits == 8 {
                    host = (offset, 0)
                    members.append(Member(name: "ZZZZZZZZZZ\(name)\(offset)", type: .atomic(.sint), count: 0, offset: offset, bit: nil))
                    offset += 1
                }
                members.append(Member(name: field, type: type, count: 0, offset: host!.offset, bit: host!.bits))
                host!.bits += 1
                continue
            }
            host = nil
            offset = (offset + type.alignment - 1) / type.alignment * type.alignment
            members.append(Member(name: field, type: type, count: count, offset: offset, bit: nil))
            offset += type.size * max(count, 1)
            alignment = max(alignment, type.alignment)
        }
        let size = max((offset + alignment - 1) / alignment * alignment, alignment)
        self.init(name: name, id: id, handle: Template.handle(name: name, fields: fields), size: size, members: members, alignment: alignment)
    }

    /// Logix's STRING: LEN (DINT) and DATA (SINT[82]), 88 bytes, handle 0x0FCE.
    public static let string = Template(name: "STRING", id: 0x0FCE, handle: 0x0FCE, size: 88, members: [
        Member(name: "LEN", type: .atomic(.dint), count: 0, offset: 0, bit: nil),
        Member(name: "DATA", type: .atomic(.sint), count: 82, offset: 4, bit: nil),
    ], alignment: 4)

    /// A structure handle that changes with the definition (Logix uses a CRC).
    private static func handle(name: String, fields: [(String, DataType, Int)]) -> UInt16 {
        var hash: UInt16 = 0xFFFF
        for byte in (name + fields.map { "\($0.0):\($0.1.name)[\($0.2)]" }.joined(separator: ",")).utf8 {
            hash = (hash << 5 | hash >> 11) ^ UInt16(byte)
        }
        return hash
    }

    /// Templates are equal only when they are the same object.
    public static func == (a: Template, b: Template) -> Bool { a === b }
    /// Hashes the object's identity.
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
