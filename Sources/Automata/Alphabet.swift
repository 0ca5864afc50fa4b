/// The symbols a machine reads.
///
/// `bytes` reads each input byte as one symbol (`.` is any byte, `\xHH` any
/// byte value); `unicode` decodes its input as UTF-8 and reads Unicode scalars.
public enum Alphabet: String, Sendable, Hashable, CaseIterable {
    case bytes
    case unicode

    /// The largest symbol value of the alphabet.
    public var maxSymbol: UInt32 {
        switch self {
        case .bytes: return 0xFF
        case .unicode: return 0x10FFFF
        }
    }
}
