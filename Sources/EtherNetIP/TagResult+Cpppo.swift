/// The lines cpppo 5.2's tools print, byte for byte, so that scripts written
/// to read them read ours: `enip_client -p` (`TagResult/cpppoLine`),
/// `get_attribute` (`TagResult/cpppoAttributeLine`).
extension TagResult {
    /// What `python -m cpppo.server.enip.client -p` prints for this result:
    /// `            SCADA[1][  1-1  ]+  0 <= [99]: 'OK'`, or for an operation
    /// with no element `               SCADA              == [5]: 'OK'`.
    /// A failed read shows `None`; a write shows the values it sent.
    public var cpppoLine: String {
        let (tag, element) = Self.cpppoPath(operation.path)
        let action = operation.write == nil ? "==" : "<="
        return "\(Self.right(tag, 20))\(element.map { cpppoRange($0) } ?? String(repeating: " ", count: 13)) \(action) \(cpppoValue): \(cpppoStatus)"
    }

    /// What cpppo's `get_attribute` prints after its timestamp and index:
    /// `Single G_A_S      @0x0001/1/7 == [20, 49, …]` (bytes as decimals;
    /// `True` for a Set Attribute carried out, `None` for a failure;
    /// `Multi.` when sent in Multiple Service Packets).
    public func cpppoAttributeLine(multiple: Bool) -> String {
        let attribute = operation.path.segments.contains { if case .attribute = $0 { true } else { false } }
        let service = operation.write != nil ? "S_A_S" : attribute ? "G_A_S" : "G_A_A"
        let value = status != .success ? "None" : operation.write != nil ? "True" : "[" + data.map { "\($0)" }.joined(separator: ", ") + "]"
        return "\(multiple ? "Multi." : "Single") \(service)      \(Self.cpppoPath(operation.path).0) == \(value)"
    }

    /// `[  1-1  ]+  0`: cpppo's element range (from the element, of the
    /// elements asked, or for a read from a byte offset those that came;
    /// a write from an offset counts elements less the offset, as cpppo does).
    private func cpppoRange(_ element: Int) -> String {
        let offset = operation.offset ?? 0
        var count = operation.elements
        if operation.write != nil, operation.offset != nil { count = operation.elements - offset }
        if operation.write == nil, operation.offset != nil, status == .success, let read = values { count = read.count }
        return "[\(Self.right("\(element)", 3))-\(Self.left("\(element + count - 1)", 3))]+\(Self.right("\(offset)", 3))"
    }

    /// The values as Python prints a list of them: a REAL widened to a double.
    private var cpppoValue: String {
        if let write = operation.write { return "[" + write.shown.joined(separator: ", ") + "]" }
        guard status == .success || status == .partialTransfer else { return "None" }
        guard type.count == 2, let atomic = CIPType(rawValue: UInt16(type[0]) | UInt16(type[1]) << 8) else {
            return "[" + data.map { "\($0)" }.joined(separator: ", ") + "]"
        }
        return "[" + atomic.pythonValues(data[...]).joined(separator: ", ") + "]"
    }

    /// `'OK'`, or `'Status 255 [8455]'` (general status, extended words);
    /// `'Status 5 '` when there are none.
    private var cpppoStatus: String {
        status == .success ? "'OK'" : "'\(cpppoStatusText)'"
    }

    /// cpppo's `format_path`: `Tag.Member` or `@0x0002/1/1` (other segments
    /// as compact JSON), then `[element]` for the last element segment.
    static func cpppoPath(_ path: CIPPath) -> (String, Int?) {
        var symbolic: [String] = [], numeric: [String] = []
        var element: Int?
        for segment in path.segments {
            switch segment {
            case .symbol(let name): symbolic.append(name)
            case .classID(let id) where numeric.isEmpty: numeric.append("0x" + Self.hex4(id))
            case .instance(let id) where numeric.count == 1: numeric.append("\(id)")
            case .attribute(let id) where numeric.count == 2: numeric.append("\(id)")
            case .element(let index): element = Int(index)
            default: numeric.append(Self.json(segment))
            }
        }
        let text = symbolic.isEmpty ? "@" + numeric.joined(separator: "/") : symbolic.joined(separator: ".")
        return (text + (element.map { "[\($0)]" } ?? ""), element)
    }

    /// A segment as cpppo's `json.dumps(segment, separators=(',',':'))`.
    private static func json(_ segment: CIPPath.Segment) -> String {
        switch segment {
        case .classID(let id): "{\"class\":\(id)}"
        case .instance(let id): "{\"instance\":\(id)}"
        case .attribute(let id): "{\"attribute\":\(id)}"
        case .element(let index): "{\"element\":\(index)}"
        case .connection(let id): "{\"connection\":\(id)}"
        case .symbol(let name): "{\"symbolic\":\"\(name)\"}"
        case .port(let port, let link):
            "{\"port\":\(port),\"link\":" + (link.count == 1 ? "\(link[0])" : "\"" + String(decoding: link, as: UTF8.self) + "\"") + "}"
        }
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Python's `%Ns`/`%Nd`: right-justified in `width`.
    public static func right(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }

    /// Python's `%-Nd`: left-justified in `width`.
    public static func left(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
}

extension TagResult {
    /// cpppo's description of the request in its log lines: `Single Read  Tag  SCADA[2000]`,
    /// `Multi. Write Frag SCADA[0-9]`.
    public func cpppoRequest(multiple: Bool, fragment: Bool) -> String {
        let fragmented = fragment || operation.offset != nil
        var path = Self.cpppoPath(operation.path)
        if let element = path.1, operation.write != nil || operation.elements > 1 {
            path.0 = String(path.0.dropLast("[\(element)]".count)) + "[\(element)-\(element + operation.elements - 1)]"
        }
        return "\(multiple ? "Multi." : "Single") \(operation.write == nil ? "Read " : "Write") \(fragmented ? "Frag" : "Tag ") \(path.0)"
    }

    /// `Status 255 [8455]` as cpppo words a failure.
    public var cpppoStatusText: String {
        "Status \(status.general) " + (status.extended.isEmpty ? "" : "[" + status.extended.map { "\($0)" }.joined(separator: ", ") + "]")
    }
}

extension CIPType {
    /// Each element as Python prints what cpppo unpacked: whole numbers, and
    /// a REAL widened to a double (`9.899999618530273`).
    public func pythonValues(_ bytes: ArraySlice<UInt8>) -> [String] {
        isInteger ? values(bytes) : numbers(bytes).map { "\($0)" }
    }
}
