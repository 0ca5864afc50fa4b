extension JSONValue {
    /// As Python's `json.dumps(value, indent=4, sort_keys=True)` writes it
    /// (cpppo's web API replies).
    public func pretty(indent: Int = 4) -> String {
        let sink = ByteSink(capacity: 1024)
        pretty(into: sink, indent: indent, depth: 0)
        return sink.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    private func pretty(into sink: ByteSink, indent: Int, depth: Int) {
        func newline(_ depth: Int) {
            sink.append(0x0A)
            for _ in 0..<(indent * depth) { sink.append(0x20) }
        }
        switch self {
        case .array(let values) where !values.isEmpty:
            sink.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { sink.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                value.pretty(into: sink, indent: indent, depth: depth + 1)
            }
            newline(depth)
            sink.append(UInt8(ascii: "]"))
        case .object(let members) where !members.isEmpty:
            sink.append(UInt8(ascii: "{"))
            let sorted = members.sorted { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) }
            for (index, (key, value)) in sorted.enumerated() {
                if index > 0 { sink.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                JSONValue.appendString(key, to: sink)
                sink.append(0x3A); sink.append(0x20)
                value.pretty(into: sink, indent: indent, depth: depth + 1)
            }
            newline(depth)
            sink.append(UInt8(ascii: "}"))
        default:
            encode(into: sink)
        }
    }

    /// As Python's `repr` shows the value (cpppo's web API messages):
    /// `True`, `None`, `'text'`, `[1, 2]`.
    public var pythonRepr: String {
        switch self {
        case .null: "None"
        case .bool(let flag): flag ? "True" : "False"
        case .int, .double: text
        case .string(let value): "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        case .array(let values): "[" + values.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .object(let members): "{" + members.map { "'\($0.0)': \($0.1.pythonRepr)" }.joined(separator: ", ") + "}"
        }
    }
}
