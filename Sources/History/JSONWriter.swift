/// Writes JSON straight into a history line, as `json.dumps` spells it, with
/// no `JSONValue` tree built first: the historian's fastest way in.
///
///     try writer.write(serial: .int(7)) { json in
///         json.object { json in
///             json.key("40001"); json.value(Int64(17))
///             json.key("40002"); json.array { json in for v in values { json.value(v) } }
///         }
///     }
public struct JSONWriter: ~Copyable {
    let sink: ByteSink
    private var first = true
    private var afterKey = false

    init(sink: ByteSink) { self.sink = sink }

    @inline(__always)
    private mutating func separate() {
        if afterKey {
            afterKey = false
        } else if first {
            first = false
        } else {
            sink.append(0x2C); sink.append(0x20)
        }
    }

    public mutating func object(_ body: (inout JSONWriter) throws -> Void) rethrows {
        try container(UInt8(ascii: "{"), UInt8(ascii: "}"), body)
    }

    public mutating func array(_ body: (inout JSONWriter) throws -> Void) rethrows {
        try container(UInt8(ascii: "["), UInt8(ascii: "]"), body)
    }

    /// An object or array: its members written by `body` with a writer of their own (their own commas).
    private mutating func container(_ open: UInt8, _ close: UInt8, _ body: (inout JSONWriter) throws -> Void) rethrows {
        separate()
        sink.append(open)
        var inner = JSONWriter(sink: sink)
        try body(&inner)
        sink.append(close)
    }

    /// A member's name; its value is the next thing written.
    public mutating func key(_ name: String) {
        separate()
        JSONValue.appendString(name, to: sink)
        sink.append(0x3A); sink.append(0x20)
        afterKey = true
    }

    public mutating func value(_ number: Int64) { separate(); JSONValue.append(number, to: sink) }
    public mutating func value(_ number: Int) { value(Int64(number)) }
    public mutating func value(_ number: Double) { separate(); sink.append(JSONValue.pythonFloat(number)) }
    public mutating func value(_ text: String) { separate(); JSONValue.appendString(text, to: sink) }
    public mutating func value(_ flag: Bool) { separate(); sink.append(flag ? "true" : "false") }
    public mutating func null() { separate(); sink.append("null") }
    public mutating func value(_ json: JSONValue) { separate(); json.encode(into: sink) }
}
