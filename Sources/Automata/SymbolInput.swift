/// Input as a machine reads it: a run of symbol classes.
protocol SymbolInput {
    var count: Int { get }
    func symbolClass(at index: Int) -> Int32
}

/// Bytes, each one symbol, classed through a 256-entry table.
struct ByteInput: SymbolInput {
    let bytes: UnsafeBufferPointer<UInt8>
    let classOf: UnsafeBufferPointer<Int32>

    var count: Int { bytes.count }

    @inline(__always) func symbolClass(at index: Int) -> Int32 { classOf[Int(bytes[index])] }
}

/// Symbols already decoded and classed (Unicode text).
struct ClassInput: SymbolInput {
    let classes: UnsafeBufferPointer<Int32>

    var count: Int { classes.count }

    @inline(__always) func symbolClass(at index: Int) -> Int32 { classes[index] }
}

/// The first `count` symbols of `base`, last first.
struct ReversedInput<Base: SymbolInput>: SymbolInput {
    let base: Base
    let count: Int

    @inline(__always) func symbolClass(at index: Int) -> Int32 { base.symbolClass(at: count - 1 - index) }
}

/// UTF-8 text decoded to symbol classes, with the byte offset where each symbol starts.
struct DecodedText {
    var classes: [Int32] = []
    /// `offsets[i]` is the byte offset of symbol `i`; one more entry marks the end.
    var offsets: [Int] = []

    /// Decodes `bytes` from `start`, stopping at the first invalid sequence.
    init(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, classes symbolClasses: SymbolClasses) {
        var offset = start
        while offset < bytes.count, let (value, width) = UTF8Scalar.decode(bytes, at: offset) {
            classes.append(symbolClasses.classOf(scalar: value))
            offsets.append(offset)
            offset += width
        }
        offsets.append(offset)
    }
}

/// UTF-8 decoding of one scalar at a time, for batch and streaming input alike.
enum UTF8Scalar {
    /// The sequence length a lead byte announces, or nil for a byte that cannot lead.
    static func width(lead: UInt8) -> Int? {
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: return 2
        case 0xE0...0xEF: return 3
        case 0xF0...0xF4: return 4
        default: return nil
        }
    }

    /// The scalar at `offset` and its width; nil when invalid or cut short.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> (UInt32, Int)? {
        let lead = bytes[offset]
        if lead < 0x80 { return (UInt32(lead), 1) }
        guard let width = width(lead: lead), offset + width <= bytes.count else { return nil }
        var iterator = bytes[offset..<(offset + width)].makeIterator()
        var decoder = UTF8()
        guard case .scalarValue(let scalar) = decoder.decode(&iterator) else { return nil }
        return (scalar.value, width)
    }
}
