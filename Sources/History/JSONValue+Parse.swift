import Foundation

extension JSONValue {
    /// Reads JSON text (as Python's `json.loads` reads it: NaN and Infinity
    /// allowed); an error names the offset and what was wrong.
    public init(parsing text: some StringProtocol) throws {
        var parser = JSONParser(bytes: Array(text.utf8))
        self = try parser.value()
        parser.skipSpace()
        guard parser.atEnd else { throw parser.failure("trailing characters") }
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var index = 0
    var depth = 0

    var atEnd: Bool { index >= bytes.count }

    mutating func skipSpace() {
        while !atEnd, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func value() throws -> JSONValue {
        skipSpace()
        guard !atEnd else { throw failure("a value expected") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try word("true", .bool(true))
        case UInt8(ascii: "f"): return try word("false", .bool(false))
        case UInt8(ascii: "n"): return try word("null", .null)
        case UInt8(ascii: "N"): return try word("NaN", .double(.nan))
        case UInt8(ascii: "I"): return try word("Infinity", .double(.infinity))
        default: return try number()
        }
    }

    private mutating func nested<T>(_ body: (inout JSONParser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 512 else { throw failure("nested too deeply") }
        return try body(&self)
    }

    private mutating func object() throws -> JSONValue {
        try nested { parser in
            parser.index += 1
            var members: [(String, JSONValue)] = []
            parser.skipSpace()
            if !parser.atEnd, parser.bytes[parser.index] == UInt8(ascii: "}") { parser.index += 1; return .object(members) }
            while true {
                parser.skipSpace()
                guard !parser.atEnd, parser.bytes[parser.index] == UInt8(ascii: "\"") else { throw parser.failure("a key expected") }
                let key = try parser.string()
                parser.skipSpace()
                try parser.expect(":")
                members.append((key, try parser.value()))
                parser.skipSpace()
                if try parser.closes("}") { return .object(members) }
            }
        }
    }

    private mutating func array() throws -> JSONValue {
        try nested { parser in
            parser.index += 1
            var values: [JSONValue] = []
            parser.skipSpace()
            if !parser.atEnd, parser.bytes[parser.index] == UInt8(ascii: "]") { parser.index += 1; return .array(values) }
            while true {
                values.append(try parser.value())
                parser.skipSpace()
                if try parser.closes("]") { return .array(values) }
            }
        }
    }

    /// After a member: "," continues (false), `close` ends (true).
    private mutating func closes(_ close: Unicode.Scalar) throws -> Bool {
        guard !atEnd else { throw failure("\"\(close)\" expected") }
        if bytes[index] == UInt8(ascii: ",") { index += 1; return false }
        try expect(close)
        return true
    }

    private mutating func expect(_ character: Unicode.Scalar) throws {
        guard !atEnd, bytes[index] == UInt8(ascii: character) else { throw failure("\"\(character)\" expected") }
        index += 1
    }

    private mutating func word(_ word: String, _ value: JSONValue) throws -> JSONValue {
        let utf8 = Array(word.utf8)
        guard bytes.count >= index + utf8.count, Array(bytes[index..<index + utf8.count]) == utf8 else { throw failure("unknown word") }
        index += utf8.count
        return value
    }

    private mutating func number() throws -> JSONValue {
        let start = index
        if !atEnd, bytes[index] == UInt8(ascii: "-") {
            index += 1
            if !atEnd, bytes[index] == UInt8(ascii: "I") { _ = try word("Infinity", .null); return .double(-.infinity) }
        }
        var isInteger = true
        while !atEnd, let byte = Optional(bytes[index]), (0x30...0x39).contains(byte) || [0x2E, 0x65, 0x45, 0x2B, 0x2D].contains(byte) {
            if !(0x30...0x39).contains(byte) { isInteger = false }
            index += 1
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let value = Int64(text) { return .int(value) }
        guard text.contains(where: \.isNumber), let value = Double(text) else { index = start; throw failure("a value expected") }
        return .double(value)
    }

    private mutating func string() throws -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() { scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars); raw.removeAll(keepingCapacity: true) }
        while !atEnd {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { flush(); return String(scalars) }
            guard byte == UInt8(ascii: "\\") else {
                guard byte >= 0x20 else { throw failure("a control character in a string") }
                raw.append(byte)
                continue
            }
            flush()
            scalars.append(try escape())
        }
        throw failure("an unterminated string")
    }

    private mutating func escape() throws -> Unicode.Scalar {
        guard !atEnd else { throw failure("an unterminated escape") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "u"):
            let unit = try hex4()
            if (0xD800..<0xDC00).contains(unit), bytes.count >= index + 6, bytes[index] == 0x5C, bytes[index + 1] == UInt8(ascii: "u"),
               let low = UInt32(String(decoding: bytes[(index + 2)..<(index + 6)], as: UTF8.self), radix: 16), (0xDC00...0xDFFF).contains(low) {
                index += 6  // a surrogate pair; a high surrogate before anything else stands alone, as U+FFFD
                if let scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)) { return scalar }
            }
            return Unicode.Scalar(unit) ?? "\u{FFFD}"
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return Unicode.Scalar(byte)
        default: throw failure("an unknown escape")
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count >= index + 4, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
            throw failure("a bad \\u escape")
        }
        index += 4
        return value
    }

    func failure(_ reason: String) -> HistoryError {
        HistoryError("invalid JSON at character \(index + 1): \(reason)")
    }
}
