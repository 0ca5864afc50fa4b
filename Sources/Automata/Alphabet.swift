/// The symbols a machine reads.
///
/// `bytes` reads each input byte as one symbol (`.` is any byte, `\xHH` any
/// byte value); `unicode` decodes its input as UTF-8 and reads Unicode scalars.
public enum Alphabet: String, Sendable, Hashable, CaseIterable {
    /// Each byte is one symbol, 0 to 255.
    case bytes
    /// Each Unicode scalar is one symbol, decoded from UTF-8 input.
    case unicode

    /// The largest symbol value of the alphabet.
    public var maxSymbol: UInt32 {
        switch self {
        case .bytes: return 0xFF
        case .unicode: return 0x10FFFF
        }
    }
}
