/// cpppo's server takes a write of a narrower type into a wider tag (SINT
/// values into an INT, INT into a DINT or a REAL); a Logix controller refuses
/// any type that is not the tag's (0xFF, 0x2107). `enip-server --widen-writes`
/// does as cpppo does.
extension CIPType {
    /// The types cpppo writes into a tag of this type, its own among them.
    var widenedFrom: Set<CIPType> {
        switch self {
        case .lreal: [.bool, .sint, .usint, .int, .uint, .dint, .udint, .real, .lreal]
        case .real: [.bool, .sint, .usint, .int, .uint, .dint, .udint, .real]
        case .lint: [.bool, .sint, .usint, .int, .uint, .dint, .udint, .lint, .ulint]
        case .ulint: [.bool, .usint, .uint, .udint, .ulint]
        case .dint: [.bool, .sint, .usint, .int, .uint, .dint, .udint]
        case .udint: [.bool, .usint, .uint, .udint]
        case .int: [.bool, .sint, .usint, .int, .uint]
        case .uint: [.bool, .usint, .uint]
        case .sint: [.bool, .sint, .usint]
        case .usint: [.bool, .usint]
        default: [self]
        }
    }

    /// `data`, elements of `source`, as elements of this type; nil when
    /// cpppo would not write `source` into it.
    func widened(_ data: ArraySlice<UInt8>, from source: CIPType) -> [UInt8]? {
        guard widenedFrom.contains(source) else { return nil }
        return source.numbers(data).flatMap { bytes(for: $0) }
    }
}
