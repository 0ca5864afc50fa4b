/// The tags a server offers, by name (Logix names ignore case) and by Symbol instance.
public struct TagTable: Sendable {
    public private(set) var tags: [Tag] = []
    private var byName: [String: Tag] = [:]

    public init() {}

    /// A tag from cpppo's `NAME=TYPE[DIMS]` (`SCADA=INT[1000]`, `Temp=REAL`,
    /// `Grid=DINT[4,8]`); `BOOL[n]` is held as DWORD[(n+31)/32].
    @discardableResult
    public mutating func add(definition: String, readOnly: Bool = false) throws(TagDefinitionError) -> Tag {
        let parts = definition.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let first = parts[0].first, first.isLetter || first == "_",
              parts[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw TagDefinitionError(definition: definition, reason: "not NAME=TYPE or NAME=TYPE[DIMENSIONS]")
        }
        let spec = parts[1]
        let typeName = spec.prefix { $0 != "[" }
        guard var type = CIPType(name: String(typeName)) else {
            throw TagDefinitionError(definition: definition, reason: "unknown type \(typeName); one of \(CIPType.allCases.map(\.name).joined(separator: ", "))")
        }
        var dimensions: [Int] = []
        if spec.count > typeName.count {
            guard spec.hasSuffix("]") else { throw TagDefinitionError(definition: definition, reason: "dimensions must end with ]") }
            let inner = spec.dropFirst(typeName.count + 1).dropLast()
            dimensions = try inner.split(separator: ",", omittingEmptySubsequences: false).map { text throws(TagDefinitionError) in
                guard let size = Int(text.filter { $0 != " " }), size >= 1 else {
                    throw TagDefinitionError(definition: definition, reason: "dimension \"\(text)\" is not a positive number")
                }
                return size
            }
            guard dimensions.count <= 3 else { throw TagDefinitionError(definition: definition, reason: "at most three dimensions") }
            if type == .bool {
                guard dimensions.count == 1 else { throw TagDefinitionError(definition: definition, reason: "a BOOL array has one dimension") }
                type = .dword
                dimensions = [(dimensions[0] + 31) / 32]
            }
        }
        let name = String(parts[0])
        guard byName[name.lowercased()] == nil else { throw TagDefinitionError(definition: definition, reason: "\(name) is defined twice") }
        let tag = Tag(name: name, type: type, dimensions: dimensions, instance: UInt32(tags.count + 1), readOnly: readOnly)
        tags.append(tag)
        byName[name.lowercased()] = tag
        return tag
    }

    public func tag(named name: String) -> Tag? { byName[name.lowercased()] }

    public func tag(instance: UInt32) -> Tag? {
        instance >= 1 && Int(instance) <= tags.count ? tags[Int(instance) - 1] : nil
    }
}

public struct TagDefinitionError: Error, CustomStringConvertible {
    public let definition: String
    public let reason: String
    public var description: String { "tag \"\(definition)\": \(reason)" }
}
