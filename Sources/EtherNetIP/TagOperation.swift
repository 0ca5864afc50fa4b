/// One client operation in cpppo's syntax: `SCADA[1]`, `SCADA[0-10]`,
/// `SCADA[1]=99`, `SCADA[0-2]=(DINT)1,2,3`, `Temp=(REAL)1.5`, `Pump.Speed`,
/// `Grid[1,2]`, `SCADA*5` (five elements from the first), `SCADA[0-9]+4`
/// (from byte offset 4, with the Fragmented services), or a numeric address
/// `@2/1/1`, `@2/1/1[2]`, `@2/1/1[0-3]` (class/instance/attribute, and
/// elements: read and written with Read/Write Tag, as cpppo's client does;
/// or, parsed with `attributeServices`, `@1/1/7` with Get Attribute Single,
/// `@1/1` with Get Attributes All and `@1/1/7=…` with Set Attribute Single,
/// as cpppo's get_attribute does).
public struct TagOperation: Sendable, Hashable, CustomStringConvertible {
    /// Where the operation goes: the tag's symbols and element indices, or the
    /// class, instance and attribute of a numeric address.
    public var path: CIPPath
    /// Elements read or written (a range's length; 1 otherwise).
    public var elements: Int
    /// For a write: the type and every element's bytes.
    public var write: Write?
    /// A numeric (`@…`) address.
    public var numeric: Bool
    /// Carried out with Get/Set Attribute services rather than Read/Write Tag.
    public var attributeServices: Bool
    /// `+N`: the byte offset a Fragmented read or write starts at.
    public var offset: Int?
    /// The operation as written.
    public let description: String

    /// What a write sends.
    public struct Write: Sendable, Hashable {
        /// The type written: as given in `(TYPE)`, else REAL when a value has a '.',
        /// INT otherwise (as cpppo does).
        public var type: CIPType
        /// Every element's bytes, little-endian, one after another.
        public var data: [UInt8]
        /// The values as Python prints what cpppo parsed: `9.9`, `10.0`, `88`.
        public var shown: [String] = []

        /// Writes are the same when their type and bytes are.
        public static func == (a: Write, b: Write) -> Bool { a.type == b.type && a.data == b.data }

        /// Hashes the type and the bytes.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(type)
            hasher.combine(data)
        }
    }

    /// Reads an operation in cpppo's syntax (see ``TagOperation``); a
    /// numeric address goes by Get/Set Attribute with `attributeServices`.
    public init(parsing text: String, attributeServices: Bool = false) throws(TagOperationError) {
        description = text
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        numeric = text.hasPrefix("@")
        self.attributeServices = attributeServices && numeric
        elements = 1
        var address = parts[0]
        if let plus = address.firstIndex(of: "+") {
            guard let bytes = Int(address[address.index(after: plus)...]), bytes >= 0 else {
                throw TagOperationError(operation: text, reason: "the byte offset after + must be a number")
            }
            offset = bytes
            address = address[..<plus]
        }
        var count: Int?
        if let star = address.firstIndex(of: "*") {
            guard let wanted = Int(address[address.index(after: star)...]), (1...65535).contains(wanted) else {
                throw TagOperationError(operation: text, reason: "the element count after * must be 1 to 65535")
            }
            count = wanted
            address = address[..<star]
        }
        if numeric {
            (path, elements) = try Self.numericPath(address.dropFirst(), in: text)
        } else if address.hasPrefix("{") {
            // cpppo's JSON segments without the @: {"symbolic":"SCADA"}/{"element":1}.
            (path, elements) = try Self.numericPath(address, in: text)
        } else {
            (path, elements) = try Self.symbolicPath(address, in: text)
        }
        // A range's length comes first, as cpppo has it; then *N.
        if elements == 1, let count { elements = count }
        if parts.count == 2 {
            let attribute = path.segments.contains { if case .attribute = $0 { true } else { false } }
            guard !self.attributeServices || attribute else {
                throw TagOperationError(operation: text, reason: "only an attribute (@CLASS/INSTANCE/ATTRIBUTE) is written")
            }
            write = try Self.write(parts[1], elements: self.attributeServices ? count ?? 1 : elements, offset: offset, in: text)
        }
    }

    /// The values of a write: as many as the elements, or (from a byte
    /// offset) a part of them that fits.
    private static func write(_ text: Substring, elements: Int, offset: Int?, in operation: String) throws(TagOperationError) -> Write {
        let (type, data, shown) = try values(text, in: operation)
        let count = shown.count
        guard let offset else {
            guard count == elements else { throw TagOperationError(operation: operation, reason: "\(count) values for \(elements) elements") }
            return Write(type: type, data: data, shown: shown)
        }
        guard offset % type.size == 0, offset + data.count <= elements * type.size else {
            throw TagOperationError(operation: operation, reason: "\(count) values from byte \(offset) do not fit \(elements) \(type.name) elements")
        }
        return Write(type: type, data: data, shown: shown)
    }

    /// `Name[a-b].Member[i,j]…`: symbols and elements; a range sets the count.
    private static func symbolicPath(_ text: Substring, in operation: String) throws(TagOperationError) -> (CIPPath, Int) {
        var segments: [CIPPath.Segment] = []
        var elements = 1
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            let name = part.prefix { $0 != "[" }
            guard let first = name.first, first.isLetter || first == "_" || first == ":",
                  name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }) else {
                throw TagOperationError(operation: operation, reason: "\"\(part)\" is not a tag or member name")
            }
            segments.append(.symbol(String(name)))
            guard part.count > name.count else { continue }
            try indices(part.dropFirst(name.count), into: &segments, elements: &elements, in: operation)
        }
        return (CIPPath(segments), elements)
    }

    /// `[i]`, `[a-b]` or `[i,j]`: element segments; a range sets the count.
    private static func indices(_ text: Substring, into segments: inout [CIPPath.Segment], elements: inout Int,
                                in operation: String) throws(TagOperationError) {
        guard text.hasPrefix("["), text.hasSuffix("]") else { throw TagOperationError(operation: operation, reason: "\"\(text)\" lacks its ]") }
        for index in text.dropFirst().dropLast().split(separator: ",") {
            let bounds = index.split(separator: "-").map { UInt32($0) }
            guard let low = bounds.first ?? nil, bounds.count <= 2, let high = bounds.last ?? nil, high >= low else {
                throw TagOperationError(operation: operation, reason: "\"\(index)\" is not an element or a range LOW-HIGH")
            }
            segments.append(.element(low))
            elements = Int(high - low) + 1
        }
    }

    /// `@class/instance[/attribute[/element]]`, each a number as Python's
    /// `int(x, 0)` reads it, or a JSON segment naming its kind, as cpppo
    /// takes: `@4/5/{"connection":100}`, `@{"class":4}/5`, `{"symbolic":"Tag"}`,
    /// `{"element":3}`, `{"port":1,"link":0}`; then `[i]` or `[a-b]`, elements.
    private static func numericPath(_ text: Substring, in operation: String) throws(TagOperationError) -> (CIPPath, Int) {
        let kinds: [(UInt32) -> CIPPath.Segment] = [CIPPath.Segment.classID, CIPPath.Segment.instance, CIPPath.Segment.attribute,
                                                    CIPPath.Segment.element]
        var segments: [CIPPath.Segment] = []
        var elements = 1
        var address = text
        if address.hasSuffix("]"), let open = address.lastIndex(of: "["), !address[open...].contains("/") {
            address = text[..<open]
        }
        for part in address.split(separator: "/") {
            // A bare number is the next of class, instance, attribute, element: a port segment before them is not one.
            let position = segments.count { if case .port = $0 { false } else { true } }
            if part.hasPrefix("{") {
                segments.append(try jsonSegment(part, in: operation))
            } else if let value = CIPPath.number(part), position < kinds.count {
                segments.append(kinds[position](value))
            } else {
                throw TagOperationError(operation: operation, reason: "\"\(part)\" is not a number or a {\"kind\":value} segment")
            }
        }
        let symbolic = segments.first.map { if case .symbol = $0 { true } else { false } } ?? false
        guard segments.count >= 2 || symbolic else {
            throw TagOperationError(operation: operation, reason: "a numeric address is @CLASS/INSTANCE[/ATTRIBUTE]")
        }
        if address.endIndex < text.endIndex {
            try indices(text[address.endIndex...], into: &segments, elements: &elements, in: operation)
        }
        return (CIPPath(segments), elements)
    }

    /// `{"class":4}`: one key, a number (or, for "symbolic", a string);
    /// `{"port":1,"link":0}`: a port segment, the link a number or an address.
    private static func jsonSegment(_ text: Substring, in operation: String) throws(TagOperationError) -> CIPPath.Segment {
        let fields = text.hasSuffix("}") ? jsonFields(text.dropFirst().dropLast()) : nil
        guard let fields, !fields.isEmpty else { throw TagOperationError(operation: operation, reason: "\"\(text)\" is not a {\"kind\":value} segment") }
        if fields.count == 2, let port = fields["port"].flatMap({ CIPPath.number($0[...]) }), let port = UInt16(exactly: port), let link = fields["link"] {
            if let number = CIPPath.number(link[...]), number <= 0xFF { return .port(port, link: [UInt8(number)]) }
            guard link.hasPrefix("\""), link.hasSuffix("\""), link.count > 2 else {
                throw TagOperationError(operation: operation, reason: "\"\(text)\": the link is a number or a quoted address")
            }
            return .port(port, link: Array(link.dropFirst().dropLast().utf8))
        }
        guard fields.count == 1, let (key, value) = fields.first else {
            throw TagOperationError(operation: operation, reason: "\"\(text)\": one kind in a segment, or port and link")
        }
        if key == "symbolic", value.hasPrefix("\""), value.hasSuffix("\""), value.count > 2 {
            return .symbol(String(value.dropFirst().dropLast()))
        }
        let make: [String: (UInt32) -> CIPPath.Segment] = ["class": CIPPath.Segment.classID, "instance": CIPPath.Segment.instance,
                                                            "attribute": CIPPath.Segment.attribute, "element": CIPPath.Segment.element,
                                                            "connection": CIPPath.Segment.connection]
        guard let kind = make[key], let number = CIPPath.number(value[...]) else {
            throw TagOperationError(operation: operation, reason: "\"\(text)\": kinds are class, instance, attribute, element, connection, symbolic, port")
        }
        return kind(number)
    }

    /// `"key":value,"key":value` with quoted keys; nil when it is not that.
    private static func jsonFields(_ inner: Substring) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in inner.split(separator: ",") {
            let parts = pair.split(separator: ":", maxSplits: 1).map { $0.filter { $0 != " " } }
            guard parts.count == 2, parts[0].count > 2, parts[0].hasPrefix("\""), parts[0].hasSuffix("\"") else { return nil }
            fields[String(parts[0].dropFirst().dropLast())] = parts[1]
        }
        return fields
    }

    /// `(TYPE)v,v,…` or `v,v,…` (REAL when any has a '.', else INT, as cpppo does).
    private static func values(_ text: Substring, in operation: String) throws(TagOperationError) -> (CIPType, [UInt8], [String]) {
        var rest = text
        var type: CIPType = text.contains(".") ? .real : .int
        if rest.hasPrefix("(") {
            guard let close = rest.firstIndex(of: ")"), let named = CIPType(name: String(rest[rest.index(after: rest.startIndex)..<close])) else {
                throw TagOperationError(operation: operation, reason: "the cast must be (TYPE) with an atomic TYPE")
            }
            type = named
            rest = rest[rest.index(after: close)...]
        }
        let items = rest.trimmingPrefix("[").split(separator: ",").map { $0.filter { $0 != "]" && $0 != " " } }
        // Found by fuzzing: `Tag+2=` was a write of nothing.
        guard !items.isEmpty else { throw TagOperationError(operation: operation, reason: "no value to write after '='") }
        var data: [UInt8] = []
        for item in items {
            guard let bytes = type.bytes(for: item) else {
                throw TagOperationError(operation: operation, reason: "\"\(item)\" is not a \(type.name)")
            }
            data += bytes
        }
        return (type, data, items.map { type.isInteger ? Int64($0).map { "\($0)" } ?? $0 : Double($0).map { "\($0)" } ?? $0 })
    }

}

/// An operation that cannot be read.
public struct TagOperationError: Error, CustomStringConvertible {
    /// The operation as written.
    public let operation: String
    /// What is wrong with it.
    public let reason: String
    /// The operation, quoted, and the reason.
    public var description: String { "\"\(operation)\": \(reason)" }

    /// `operation` refused for `reason`.
    public init(operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }
}

extension CIPType {
    /// One element's little-endian bytes from its text; nil when out of range.
    public func bytes(for text: String) -> [UInt8]? {
        let bits: UInt64
        switch self {
        case .real: guard let value = Float(text) else { return nil }; bits = UInt64(value.bitPattern)
        case .lreal: guard let value = Double(text) else { return nil }; bits = value.bitPattern
        case .bool: guard let value = UInt8(text), value <= 1 else { return nil }; bits = UInt64(value)
        case .sint, .int, .dint, .lint:
            guard let value = Int64(text), size == 8 || (value >= -(1 << (size * 8 - 1)) && value < 1 << (size * 8 - 1)) else { return nil }
            bits = UInt64(bitPattern: value)
        case .usint, .uint, .udint, .ulint, .dword:
            guard let value = UInt64(text), size == 8 || value < 1 << (size * 8) else { return nil }
            bits = value
        }
        return (0..<size).map { UInt8(truncatingIfNeeded: bits >> UInt64($0 * 8)) }
    }

    /// Each element of `bytes` as text.
    public func values(_ bytes: ArraySlice<UInt8>) -> [String] {
        stride(from: bytes.startIndex, to: bytes.endIndex - size + 1, by: size).map { start in
            let raw = bytes[start..<start + size].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            switch self {
            case .real: return "\(Float(bitPattern: UInt32(raw)))"
            case .lreal: return "\(Double(bitPattern: raw))"
            case .sint, .int, .dint, .lint:
                let shift = UInt64(64 - size * 8)
                return "\(Int64(bitPattern: raw << shift) >> Int64(shift))"
            default: return "\(raw)"
            }
        }
    }
}

extension CIPType {
    /// Whether values of the type are whole numbers.
    public var isInteger: Bool { self != .real && self != .lreal }

    /// Each element of `bytes` as a number.
    public func numbers(_ bytes: ArraySlice<UInt8>) -> [Double] {
        stride(from: bytes.startIndex, to: bytes.endIndex - size + 1, by: size).map { start in
            let raw = bytes[start..<start + size].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            switch self {
            case .real: return Double(Float(bitPattern: UInt32(raw)))
            case .lreal: return Double(bitPattern: raw)
            case .sint, .int, .dint, .lint:
                let shift = UInt64(64 - size * 8)
                return Double(Int64(bitPattern: raw << shift) >> Int64(shift))
            default: return Double(raw)
            }
        }
    }

    /// One element's bytes from a number: rounded toward zero and clamped to the type's range for integers.
    public func bytes(for value: Double) -> [UInt8] {
        let bits: UInt64
        switch self {
        case .real: bits = UInt64(Float(value).bitPattern)
        case .lreal: bits = value.bitPattern
        case .sint, .int, .dint, .lint:
            let limit = size == 8 ? 9.223372036854775e18 : Double(1 << (size * 8 - 1))
            let clamped = value.isNaN ? 0 : min(max(value.rounded(.towardZero), -limit), limit - 1)
            bits = UInt64(bitPattern: size == 8 && clamped >= limit ? Int64.max : Int64(clamped))
        default:
            let limit = size == 8 ? 1.8446744073709552e19 : Double(UInt64(1) << (size * 8))
            let clamped = value.isNaN ? 0 : min(max(value.rounded(.towardZero), 0), limit - 1)
            bits = size == 8 && clamped >= limit ? UInt64.max : UInt64(clamped)
        }
        return (0..<size).map { UInt8(truncatingIfNeeded: bits >> UInt64($0 * 8)) }
    }
}
