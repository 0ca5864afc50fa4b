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
        var bytes: [UInt8] = []
        encode(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    public func encode(into bytes: inout [UInt8]) {
        switch self {
        case .null: bytes += "null".utf8
        case .bool(let value): bytes += (value ? "true" : "false").utf8
        case .int(let value): JSONValue.append(value, to: &bytes)
        case .double(let value): bytes += JSONValue.pythonFloat(value).utf8
        case .string(let value): JSONValue.appendString(value, to: &bytes)
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for value in values {
                if !first { bytes.append(0x2C); bytes.append(0x20) }
                first = false
                value.encode(into: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for (key, value) in members {
                if !first { bytes.append(0x2C); bytes.append(0x20) }
                first = false
                JSONValue.appendString(key, to: &bytes)
                bytes.append(0x3A); bytes.append(0x20)
                value.encode(into: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    static func append(_ value: Int64, to bytes: inout [UInt8]) {
        if value >= 0, value < 10 {
            bytes.append(0x30 + UInt8(value))
            return
        }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes on the stack: no allocation per number
        withUnsafeMutableBytes(of: &digits) { raw in
            var magnitude = value.magnitude, index = raw.count
            while magnitude > 0 {
                index -= 1
                raw[index] = 0x30 + UInt8(magnitude % 10)
                magnitude /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[index...]))
        }
    }

    /// Python's `float.__repr__`: the shortest round-tripping digits, as
    /// Swift's `description` gives them, in Python's spelling.
    static func pythonFloat(_ value: Double) -> String {
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

    static func appendString(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            bytes += value.utf8  // the common case: nothing to escape
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": bytes += [0x5C, 0x22]
            case "\\": bytes += [0x5C, 0x5C]
            case "\n": bytes += [0x5C, UInt8(ascii: "n")]
            case "\r": bytes += [0x5C, UInt8(ascii: "r")]
            case "\t": bytes += [0x5C, UInt8(ascii: "t")]
            case "\u{08}": bytes += [0x5C, UInt8(ascii: "b")]
            case "\u{0C}": bytes += [0x5C, UInt8(ascii: "f")]
            case " "..."~": bytes.append(UInt8(scalar.value))
            default:
                for unit in String(scalar).utf16 { bytes += "\\u".utf8 + hex4(unit) }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func hex4(_ unit: UInt16) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return [12, 8, 4, 0].map { digits[Int(unit >> UInt16($0) & 0xF)] }
    }
}
