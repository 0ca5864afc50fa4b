/// One client operation in cpppo's syntax: `SCADA[1]`, `SCADA[0-10]`,
/// `SCADA[1]=99`, `SCADA[0-2]=(DINT)1,2,3`, `Temp=(REAL)1.5`, `Pump.Speed`,
/// `Grid[1,2]`, `SCADA*5` (five elements from the first), `SCADA[0-9]+4`
/// (from byte offset 4, with the Fragmented services), or a numeric address
/// `@1/1/7` (class/instance/attribute, read with Get Attribute Single; `@1/1`
/// with Get Attributes All).
public struct TagOperation: Sendable, Hashable, CustomStringConvertible {
    /// Where the operation goes: the tag's symbols and element indices, or the
    /// class, instance and attribute of a numeric address.
    public var path: CIPPath
    /// Elements read or written (a range's length; 1 otherwise).
    public var elements: Int
    /// For a write: the type and every element's bytes.
    public var write: Write?
    /// A numeric (`@…`) address: a Get Attribute service, not a tag service.
    public var numeric: Bool
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
    }

    /// Reads an operation in cpppo's syntax (see ``TagOperation``).
    public init(parsing text: String) throws(TagOperationError) {
        description = text
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        numeric = text.hasPrefix("@")
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
            path = try Self.numericPath(address.dropFirst(), in: text)
        } else {
            (path, elements) = try Self.symbolicPath(address, in: text)
        }
        // A range's length comes first, as cpppo has it; then *N.
        if elements == 1, let count { elements = count }
        if parts.count == 2 {
            let attribute = path.segments.contains { if case .attribute = $0 { true } else { false } }
            guard !numeric || attribute else { throw TagOperationError(operation: text, reason: "only an attribute (@CLASS/INSTANCE/ATTRIBUTE) is written") }
            write = try Self.write(parts[1], elements: numeric ? count ?? 1 : elements, offset: offset, in: text)
        }
    }

    /// The values of a write: as many as the elements, or (from a byte
    /// offset) a part of them that fits.
    private static func write(_ text: Substring, elements: Int, offset: Int?, in operation: String) throws(TagOperationError) -> Write {
        let (type, data, count) = try values(text, in: operation)
        guard let offset else {
            guard count == elements else { throw TagOperationError(operation: operation, reason: "\(count) values for \(elements) elements") }
            return Write(type: type, data: data)
        }
        guard offset % type.size == 0, offset + data.count <= elements * type.size else {
            throw TagOperationError(operation: operation, reason: "\(count) values from byte \(offset) do not fit \(elements) \(type.name) elements")
        }
        return Write(type: type, data: data)
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
            guard part.hasSuffix("]") else { throw TagOperationError(operation: operation, reason: "\"\(part)\" lacks its ]") }
            for index in part.dropFirst(name.count + 1).dropLast().split(separator: ",") {
                let bounds = index.split(separator: "-").map { UInt32($0) }
                guard let low = bounds.first ?? nil, bounds.count <= 2, let high = bounds.last ?? nil, high >= low else {
                    throw TagOperationError(operation: operation, reason: "\"\(index)\" is not an element or a range LOW-HIGH")
                }
                segments.append(.element(low))
                elements = Int(high - low) + 1
            }
        }
        return (CIPPath(segments), elements)
    }

    /// `@class/instance[/attribute[/element]]`, each decimal or 0x hex, or
    /// a JSON segment naming its kind, as cpppo takes: `@4/5/{"connection":100}`,
    /// `@{"class":4}/5`, `{"symbolic":"Tag"}`, `{"element":3}`.
    private static func numericPath(_ text: Substring, in operation: String) throws(TagOperationError) -> CIPPath {
        let kinds: [(UInt32) -> CIPPath.Segment] = [CIPPath.Segment.classID, CIPPath.Segment.instance, CIPPath.Segment.attribute,
                                                    CIPPath.Segment.element]
        var segments: [CIPPath.Segment] = []
        for (position, part) in text.split(separator: "/").enumerated() {
            if part.hasPrefix("{") {
                segments.append(try jsonSegment(part, in: operation))
            } else if let value = CIPPath.number(part), position < kinds.count {
                segments.append(kinds[position](value))
            } else {
                throw TagOperationError(operation: operation, reason: "\"\(part)\" is not a number or a {\"kind\":value} segment")
            }
        }
        guard segments.count >= 2 else { throw TagOperationError(operation: operation, reason: "a numeric address is @CLASS/INSTANCE[/ATTRIBUTE]") }
        return CIPPath(segments)
    }

    /// `{"class":4}`: one key, a number (or, for "symbolic", a string).
    private static func jsonSegment(_ text: Substring, in operation: String) throws(TagOperationError) -> CIPPath.Segment {
        let inner = text.dropFirst().dropLast(text.hasSuffix("}") ? 1 : 0)
        let parts = inner.split(separator: ":", maxSplits: 1).map { $0.filter { $0 != " " } }
        guard text.hasSuffix("}"), parts.count == 2, parts[0].hasPrefix("\""), parts[0].hasSuffix("\""), parts[0].count >= 2 else {
            throw TagOperationError(operation: operation, reason: "\"\(text)\" is not a {\"kind\":value} segment")
        }
        let key = parts[0].dropFirst().dropLast()
        if key == "symbolic", parts[1].hasPrefix("\""), parts[1].hasSuffix("\""), parts[1].count > 2 {
            return .symbol(String(parts[1].dropFirst().dropLast()))
        }
        let make: [Substring: (UInt32) -> CIPPath.Segment] = ["class": CIPPath.Segment.classID, "instance": CIPPath.Segment.instance,
                                                               "attribute": CIPPath.Segment.attribute, "element": CIPPath.Segment.element,
                                                               "connection": CIPPath.Segment.connection]
        guard let kind = make[key], let value = CIPPath.number(parts[1][...]) else {
            throw TagOperationError(operation: operation, reason: "\"\(text)\": kinds are class, instance, attribute, element, connection, symbolic")
        }
        return kind(value)
    }

    /// `(TYPE)v,v,…` or `v,v,…` (REAL when any has a '.', else INT, as cpppo does).
    private static func values(_ text: Substring, in operation: String) throws(TagOperationError) -> (CIPType, [UInt8], Int) {
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
        return (type, data, items.count)
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
