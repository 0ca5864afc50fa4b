/// Get Instance Attribute List (0x55) on the Symbol class (0x6B): the tag
/// list, from a starting instance, with the attributes asked for in the
/// order asked; 0x06 when more tags remain than fit.
struct SymbolList {
    let tags: TagTable

    /// One listed symbol: a tag, or a program (controller scope lists those too).
    private struct Symbol {
        let instance: UInt32
        let name: String
        let tag: Tag?
    }

    func serve(_ request: CIPRequest, limit: Int) throws(CIPStatus) -> CIPReply {
        var start: UInt32 = 0
        var program: String?
        for segment in request.path.segments {
            switch segment {
            case .symbol(let name) where name.lowercased().hasPrefix("program:") && program == nil: program = name.lowercased()
            case .classID(0x6B): break
            case .instance(let id): start = id
            default: throw .pathSegmentError
            }
        }
        var reader = WireReader(request.data)
        let count = Int(try reader.u16())
        var attributes: [UInt16] = []
        for _ in 0..<count { attributes.append(try reader.u16()) }
        if let program, tags.programs[program] == nil { throw .pathDestinationUnknown }
        var data: [UInt8] = []
        for symbol in symbols(in: program) where symbol.instance >= start {
            let entry = try self.entry(symbol, attributes)
            guard 4 + data.count + entry.count <= limit else { return CIPReply(service: request.service, status: .partialTransfer, data: data) }
            data += entry
        }
        return CIPReply(service: request.service, data: data)
    }

    /// A program's tags (names without the program), or the controller's
    /// tags and programs, in instance order.
    private func symbols(in program: String?) -> [Symbol] {
        guard let program else {
            let controller = tags.tags.filter { !$0.name.contains(".") }.map { Symbol(instance: $0.instance, name: $0.name, tag: $0) }
            let programs = tags.programs.map { Symbol(instance: $0.value, name: tags.programName($0.key) ?? $0.key, tag: nil) }
            return (controller + programs).sorted { $0.instance < $1.instance }
        }
        return tags.tags.filter { $0.name.lowercased().hasPrefix(program + ".") }
            .map { Symbol(instance: $0.instance, name: String($0.name.dropFirst(program.count + 1)), tag: $0) }
    }

    /// A program is listed as Logix lists one: type 0x1068, no data.
    private func entry(_ symbol: Symbol, _ attributes: [UInt16]) throws(CIPStatus) -> [UInt8] {
        var out: [UInt8] = []
        out.append32(symbol.instance)
        let dimensions = symbol.tag?.dimensions ?? []
        for attribute in attributes {
            switch attribute {
            case 1:
                out.append16(UInt16(symbol.name.utf8.count))
                out += Array(symbol.name.utf8)
            case 2: out.append16(symbol.tag.map { $0.type.symbolType | UInt16(dimensions.count) << 13 } ?? 0x1068)
            case 3: out.append32(0)
            case 5: out.append32(symbol.instance)
            case 6: out.append32(0)
            case 7: out.append16(UInt16(symbol.tag?.type.size ?? 0))
            case 8: for index in 0..<3 { out.append32(UInt32(index < dimensions.count ? dimensions[index] : 0)) }
            case 10: out.append(symbol.tag?.readOnly == true ? 2 : 0)
            default: throw .attributeNotSupported
            }
        }
        return out
    }
}
