/// The tags a server offers, by name (Logix names ignore case) and by
/// Symbol instance, and the structure types they use, by template instance.
public struct TagTable: Sendable {
    /// Every tag, in the order added.
    public private(set) var tags: [Tag] = []
    /// The structure types the tags use, by template instance, for clients to read.
    public private(set) var templates: [UInt16: Template] = [:]
    /// Programs (`Program:Main`) that hold program-scope tags, with the
    /// Symbol instance that lists each in the controller's tag list.
    public private(set) var programs: [String: UInt32] = [:]
    /// Tags also reachable as an attribute: where cpppo's `NAME@CLASS/INSTANCE/ATTRIBUTE`
    /// places them, else, as cpppo does, attribute N of class 2 instance 1
    /// (`@2/1/1` the first such tag, `@2/1/2` the next).
    public private(set) var attributes: [CIPPath: Tag] = [:]
    private var nextPlace: UInt32 = 1
    private var byName: [String: Tag] = [:]
    private var byInstance: [UInt32: Tag] = [:]
    private var structures: [String: Template] = ["string": .string]
    private var nextInstance: UInt32 = 1

    /// An empty table, which knows STRING as a type.
    public init() {}

    /// A tag from cpppo's `NAME=TYPE[DIMS]` (`SCADA=INT[1000]`, `Temp=REAL`,
    /// `Grid=DINT[4,8]`, `Label=STRING`, or a structure defined before);
    /// `BOOL[n]` is held as DWORD[(n+31)/32].
    /// `Count` alone is one INT (as cpppo has it). `Program:Main.Count=DINT` is a program-scope tag; `Speed@0x93/3/10=REAL`
    /// is also Get/Set Attribute Single's attribute 10 of class 0x93, instance 3.
    @discardableResult
    public mutating func add(definition: String, readOnly: Bool = false, hook: (any TagHook)? = nil) throws(TagDefinitionError) -> Tag {
        // A bare NAME is one INT, as cpppo takes it.
        let (written, spec) = try Self.split(definition.contains("=") ? definition : definition + "=INT", program: true)
        let (name, attribute) = try Self.attribute(written, in: definition)
        var (type, dimensions) = try parse(spec, in: definition)
        guard dimensions.count <= 3 else { throw TagDefinitionError(definition: definition, reason: "at most three dimensions") }
        if case .atomic(.bool) = type, !dimensions.isEmpty {
            guard dimensions.count == 1 else { throw TagDefinitionError(definition: definition, reason: "a BOOL array has one dimension") }
            type = .atomic(.dword)
            dimensions = [(dimensions[0] + 31) / 32]
        }
        if let attribute, attributes[attribute] != nil { throw TagDefinitionError(definition: definition, reason: "that attribute is another tag's") }
        let tag = try insert(name, type: type, dimensions: dimensions, readOnly: readOnly, source: nil, hook: hook, definition: definition)
        if let attribute { attributes[attribute] = tag } else { place(tag) }
        return tag
    }

    /// Puts `tag` at the next attribute of class 2 instance 1 no tag has.
    private mutating func place(_ tag: Tag) {
        while attributes[Self.logixAttribute(nextPlace)] != nil { nextPlace += 1 }
        attributes[Self.logixAttribute(nextPlace)] = tag
        nextPlace += 1
    }

    private static func logixAttribute(_ id: UInt32) -> CIPPath { CIPPath([.classID(2), .instance(1), .attribute(id)]) }

    /// The tag placed at the attribute `path` starts with (its first three segments).
    public func attributeTag(_ path: CIPPath) -> Tag? {
        guard path.segments.count >= 3, case .classID = path.segments[0] else { return nil }
        return attributes[CIPPath(Array(path.segments.prefix(3)))]
    }

    private mutating func insert(_ name: String, type: DataType, dimensions: [Int], readOnly: Bool, source: (any TagSource)?,
                                 hook: (any TagHook)? = nil, definition: String) throws(TagDefinitionError) -> Tag {
        guard byName[name.lowercased()] == nil else { throw TagDefinitionError(definition: definition, reason: "\(name) is defined twice") }
        guard Self.bytes(of: type, dimensions) <= Self.maximumBytes else {
            throw TagDefinitionError(definition: definition, reason: "more than \(Self.maximumBytes >> 20) MiB in one tag")
        }
        if let dot = name.firstIndex(of: "."), programs[name[..<dot].lowercased()] == nil {
            programs[name[..<dot].lowercased()] = nextInstance
            nextInstance += 1
        }
        if case .structure(let template) = type { register(template) }
        let tag = Tag(name: name, type: type, dimensions: dimensions, instance: nextInstance, readOnly: readOnly, source: source, hook: hook)
        nextInstance += 1
        tags.append(tag)
        byName[name.lowercased()] = tag
        byInstance[tag.instance] = tag
        return tag
    }

    /// The most bytes one tag may hold (found by fuzzing: `Flags=BOOL[63333333333333334]`
    /// asked for petabytes, and the process died allocating them).
    public static let maximumBytes = 64 << 20

    /// The bytes of `dimensions` elements of `type`; Int.max if that overflows.
    private static func bytes(of type: DataType, _ dimensions: [Int]) -> Int {
        dimensions.reduce(type.size) { total, dimension in
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            return overflow ? Int.max : product
        }
    }

    /// The program name as written (`Program:Main`), by its lowercased key.
    public func programName(_ key: String) -> String? {
        tags.first { $0.name.lowercased().hasPrefix(key + ".") }.map { String($0.name.prefix(key.count)) }
    }

    /// `NAME@CLASS/INSTANCE/ATTRIBUTE`: the name and the attribute's path.
    private static func attribute(_ written: String, in definition: String) throws(TagDefinitionError) -> (String, CIPPath?) {
        guard let at = written.firstIndex(of: "@") else { return (written, nil) }
        var numbers: [UInt32] = []
        for part in written[written.index(after: at)...].split(separator: "/") {
            guard let value = CIPPath.number(part) else {
                throw TagDefinitionError(definition: definition, reason: "\"\(part)\" is not a number")
            }
            numbers.append(value)
        }
        guard numbers.count == 3 else { throw TagDefinitionError(definition: definition, reason: "the address is @CLASS/INSTANCE/ATTRIBUTE") }
        return (String(written[..<at]), CIPPath([.classID(numbers[0]), .instance(numbers[1]), .attribute(numbers[2])]))
    }

    /// A structure type from `NAME=MEMBER:TYPE,MEMBER:TYPE[N],…`
    /// (`Motor=Speed:REAL,Run:BOOL,Counts:DINT[4]`); members may be
    /// structures defined before, or STRING.
    @discardableResult
    public mutating func addStructure(definition: String) throws(TagDefinitionError) -> Template {
        let (name, spec) = try Self.split(definition)
        var fields: [(String, DataType, Int)] = []
        for field in spec.split(separator: ",") {
            let parts = field.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, Self.isName(parts[0]) else {
                throw TagDefinitionError(definition: definition, reason: "member \"\(field)\" is not NAME:TYPE")
            }
            var (type, dimensions) = try parse(parts[1], in: definition)
            if case .atomic(.bool) = type, let bits = dimensions.first {
                type = .atomic(.dword)
                dimensions = [(bits + 31) / 32]
            }
            guard dimensions.count <= 1 else { throw TagDefinitionError(definition: definition, reason: "a member has at most one dimension") }
            // A template holds a member's element count in 16 bits (found by fuzzing: more trapped).
            guard (dimensions.first ?? 0) <= 0xFFFF else {
                throw TagDefinitionError(definition: definition, reason: "member \(parts[0]) has more than 65535 elements")
            }
            guard !fields.contains(where: { $0.0.lowercased() == parts[0].lowercased() }) else {
                throw TagDefinitionError(definition: definition, reason: "member \(parts[0]) is defined twice")
            }
            fields.append((String(parts[0]), type, dimensions.first ?? 0))
        }
        guard !fields.isEmpty else { throw TagDefinitionError(definition: definition, reason: "a structure needs members") }
        return try addStructure(name: name, fields: fields)
    }

    /// A structure type from members given in code (the gateway's devices).
    @discardableResult
    public mutating func addStructure(name: String, fields: [(String, DataType, Int)], packBools: Bool = true) throws(TagDefinitionError) -> Template {
        guard structures[name.lowercased()] == nil, CIPType(name: name) == nil else {
            throw TagDefinitionError(definition: name, reason: "type \(name) is defined already")
        }
        let bytes = fields.map { Self.bytes(of: $0.1, [max($0.2, 1)]) }.reduce(0) { total, member in
            let (sum, overflow) = total.addingReportingOverflow(member)
            return overflow ? Int.max : sum
        }
        guard bytes <= Self.maximumBytes else {
            throw TagDefinitionError(definition: name, reason: "more than \(Self.maximumBytes >> 20) MiB in one structure")
        }
        // UDT instances count from 0x100; STRING, predefined, is not one of them.
        let template = Template(name: name, id: UInt16(0x100 + structures.count - 1), fields: fields, packBools: packBools)
        structures[name.lowercased()] = template
        return template
    }

    /// A tag given in code, whose bytes may come from a `source`.
    @discardableResult
    public mutating func add(name: String, type: DataType, readOnly: Bool = false, source: (any TagSource)? = nil) throws(TagDefinitionError) -> Tag {
        guard Self.isName(name[...]) else { throw TagDefinitionError(definition: name, reason: "not a tag name") }
        return try insert(name, type: type, dimensions: [], readOnly: readOnly, source: source, definition: name)
    }

    /// The tag of that name, in any case.
    public func tag(named name: String) -> Tag? { byName[name.lowercased()] }

    /// The tag that Symbol instance `instance` lists.
    public func tag(instance: UInt32) -> Tag? { byInstance[instance] }

    /// A template and every template its members use, so clients can read them.
    private mutating func register(_ template: Template) {
        templates[template.id] = template
        for member in template.members {
            if case .structure(let inner) = member.type { register(inner) }
        }
    }

    private func parse(_ spec: Substring, in definition: String) throws(TagDefinitionError) -> (DataType, [Int]) {
        let typeName = spec.prefix { $0 != "[" }
        let type: DataType
        if let atomic = CIPType(name: String(typeName)) {
            type = .atomic(atomic)
        } else if let template = structures[typeName.lowercased()] {
            type = .structure(template)
        } else {
            let known = CIPType.allCases.map(\.name) + structures.values.map(\.name).sorted()
            throw TagDefinitionError(definition: definition, reason: "unknown type \(typeName); one of \(known.joined(separator: ", "))")
        }
        guard spec.count > typeName.count else { return (type, []) }
        guard spec.hasSuffix("]") else { throw TagDefinitionError(definition: definition, reason: "dimensions must end with ]") }
        var dimensions: [Int] = []
        for text in spec.dropFirst(typeName.count + 1).dropLast().split(separator: ",", omittingEmptySubsequences: false) {
            guard let size = Int(text.filter { $0 != " " }), size >= 1 else {
                throw TagDefinitionError(definition: definition, reason: "dimension \"\(text)\" is not a positive number")
            }
            dimensions.append(size)
        }
        return (type, dimensions)
    }

    /// NAME and TYPE of `NAME=TYPE`; with `program`, NAME may be
    /// `Program:P.NAME` and end in `@CLASS/INSTANCE/ATTRIBUTE`.
    private static func split(_ definition: String, program: Bool = false) throws(TagDefinitionError) -> (String, Substring) {
        let parts = definition.split(separator: "=", maxSplits: 1)
        let name = parts.first?.prefix { $0 != "@" } ?? ""
        var pieces = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        if program, pieces.count == 2, pieces[0].lowercased().hasPrefix("program:") { pieces[0] = pieces[0].dropFirst(8) } else { pieces = [name] }
        guard parts.count == 2, pieces.allSatisfy(isName) else {
            throw TagDefinitionError(definition: definition, reason: "not NAME=TYPE or NAME=TYPE[DIMENSIONS]")
        }
        return (String(parts[0]), parts[1])
    }

    /// A Logix name: a letter or _, then letters, digits and _.
    public static func isName(_ text: some StringProtocol) -> Bool {
        guard let first = text.first, first.isLetter || first == "_" else { return false }
        return text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }
}

/// A tag definition that cannot be read, or that clashes with a tag defined before.
public struct TagDefinitionError: Error, CustomStringConvertible {
    /// The definition as written.
    public let definition: String
    /// What is wrong with it.
    public let reason: String
    /// The definition, quoted, and the reason.
    public var description: String { "\"\(definition)\": \(reason)" }
}
