/// A tag's or a member's type: atomic, or a structure described by a template.
public enum DataType: Sendable, Hashable {
    /// An atomic type.
    case atomic(CIPType)
    /// A structure laid out by its template.
    case structure(Template)

    /// The atomic type; nil for a structure.
    public var atomic: CIPType? {
        if case .atomic(let type) = self { type } else { nil }
    }

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .atomic(let type): type.size
        case .structure(let template): template.size
        }
    }

    /// The type field of a Read Tag reply and a Write Tag request: the
    /// atomic code, or 0x02A0 and the structure handle.
    var typeBytes: [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .atomic(let type): out.append16(type.rawValue)
        case .structure(let template): out.append16(0x02A0); out.append16(template.handle)
        }
        return out
    }

    /// The Symbol object's type word (attribute 2) before the dimension bits.
    var symbolType: UInt16 {
        switch self {
        case .atomic(let type): type.rawValue
        case .structure(let template): 0x8000 | template.id
        }
    }

    /// The type's name as a definition writes it: "DINT", "STRING", a UDT's name.
    public var name: String {
        switch self {
        case .atomic(let type): type.name
        case .structure(let template): template.name
        }
    }

    /// Members are aligned to their size (structures to 4), as Logix lays them out.
    var alignment: Int {
        switch self {
        case .atomic(let type): type.size
        case .structure(let template): template.alignment
        }
    }
}
