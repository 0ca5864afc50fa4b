import Foundation

/// A JSON value of a history record, written byte for byte as Python's
/// `json.dumps` writes it (", " and ": " separators, non-ASCII escaped, floats
/// in their shortest form, NaN and Infinity), so that a record fieldgw writes
/// is the line cpppo's `history.logger` would write for the same values.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.double(a), .double(b)): a == b || (a.isNaN && b.isNaN)
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The value as `json.dumps` writes it.
    public var text: String {
        let sink = ByteSink(capacity: 64)
        encode(into: sink)
        return sink.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    public func encode(into bytes: inout [UInt8]) {
        let sink = ByteSink(capacity: 64)
        encode(into: sink)
        bytes += sink.bytes
    }

    public func encode(into bytes: ByteSink) {
        switch self {
        case .null: bytes.append("null")
        case .bool(let value): bytes.append(value ? "true" : "false")
        case .int(let value): JSONValue.append(value, to: bytes)
        case .double(let value): bytes.append(JSONValue.pythonFloat(value))
        case .string(let value): JSONValue.appendString(value, to: bytes)
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for value in values {
                if !first { bytes.append(0x2C); bytes.append(0x20) }
                first = false
                value.encode(into: bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for (key, value) in members {
                if !first { bytes.append(0x2C); bytes.append(0x20) }
                first = false
                JSONValue.appendString(key, to: bytes)
                bytes.append(0x3A); bytes.append(0x20)
                value.encode(into: bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// "00" to "99", in static memory (no lazy initialisation per use).
    static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """

    @inline(__always)
    static func append(_ value: Int64, to bytes: ByteSink) {
        if value >= 0, value < 10 {
            bytes.append(0x30 + UInt8(value))
            return
        }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var length = 1
        var limit: UInt64 = 10
        while length < 20, magnitude >= limit { length += 1; limit = limit &* 10 }
        let out = bytes.reserve(length)
        var index = length
        let pairs = digitPairs.utf8Start
        while index >= 2 {  // two digits per division, from a table
            let pair = Int(truncatingIfNeeded: magnitude % 100) * 2
            magnitude /= 100
            index -= 2
            out[index] = pairs[pair]
            out[index + 1] = pairs[pair + 1]
        }
        if index == 1 { out[0] = 0x30 + UInt8(truncatingIfNeeded: magnitude) }
        bytes.advance(length)
    }

    /// Python's `float.__repr__`: the shortest round-tripping digits, as
    /// Swift's `description` gives them, in Python's spelling.
    public static func pythonFloat(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        var text = value.description
        if let e = text.firstIndex(of: "e") {
            // Swift writes "1e-05" and "1e+16" as Python does, but "1.0e+16" never: only digits before e.
            let exponent = text[text.index(after: e)...]
            let sign = exponent.first == "-" ? "-" : "+"
            let digits = exponent.drop { $0 == "-" || $0 == "+" }
            text = text[..<e] + "e" + sign + (digits.count < 2 ? "0" : "") + digits
        }
        return text
    }

    @inline(__always)
    static func appendString(_ value: String, to bytes: ByteSink) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        let plain = value.withUTF8 { utf8 in
            guard utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) else { return false }
            bytes.append(UnsafeRawBufferPointer(utf8))  // the common case: nothing to escape
            return true
        }
        if plain {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": bytes.append("\\\"")
            case "\\": bytes.append("\\\\")
            case "\n": bytes.append("\\n")
            case "\r": bytes.append("\\r")
            case "\t": bytes.append("\\t")
            case "\u{08}": bytes.append("\\b")
            case "\u{0C}": bytes.append("\\f")
            case " "..."~": bytes.append(UInt8(scalar.value))
            default:
                for unit in String(scalar).utf16 { bytes.append([0x5C, UInt8(ascii: "u")] + hex4(unit)) }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func hex4(_ unit: UInt16) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return [12, 8, 4, 0].map { digits[Int(unit >> UInt16($0) & 0xF)] }
    }
}
