/// Get Instance Attribute List (0x55) on the Symbol class (0x6B): the tag
/// list, from a starting instance, with the attributes asked for in the
/// order asked; 0x06 when more tags remain than fit.
struct SymbolList {
    let tags: TagTable

    func serve(_ request: CIPRequest, limit: Int) throws(CIPStatus) -> CIPReply {
        var start: UInt32 = 0
        var program = false
        for segment in request.path.segments {
            switch segment {
            case .symbol(let name) where name.lowercased().hasPrefix("program:"): program = true
            case .classID(0x6B): break
            case .instance(let id): start = id
            default: throw .pathSegmentError
            }
        }
        var reader = WireReader(request.data)
        let count = Int(try reader.u16())
        var attributes: [UInt16] = []
        for _ in 0..<count { attributes.append(try reader.u16()) }
        // Program-scope tags: none yet, so a program's list is empty.
        let candidates = program ? [] : tags.tags.filter { $0.instance >= start }
        var data: [UInt8] = []
        for tag in candidates {
            let entry = try self.entry(tag, attributes)
            guard 4 + data.count + entry.count <= limit else { return CIPReply(service: request.service, status: .partialTransfer, data: data) }
            data += entry
        }
        return CIPReply(service: request.service, data: data)
    }

    private func entry(_ tag: Tag, _ attributes: [UInt16]) throws(CIPStatus) -> [UInt8] {
        var out: [UInt8] = []
        out.append32(tag.instance)
        for attribute in attributes {
            switch attribute {
            case 1:
                out.append16(UInt16(tag.name.utf8.count))
                out += Array(tag.name.utf8)
            case 2: out.append16(tag.type.symbolType | UInt16(tag.dimensions.count) << 13)
            case 3: out.append32(0)
            case 5: out.append32(tag.instance)
            case 6: out.append32(0)
            case 7: out.append16(UInt16(tag.type.size))
            case 8: for index in 0..<3 { out.append32(UInt32(index < tag.dimensions.count ? tag.dimensions[index] : 0)) }
            case 10: out.append(tag.readOnly ? 2 : 0)
            default: throw .attributeNotSupported
            }
        }
        return out
    }
}
