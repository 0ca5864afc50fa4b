/// The Template class (0x6C): Get Attribute List (0x03) of a structure's
/// handle, member count, definition size and structure size, and Read
/// (0x4C) of its definition, in parts when it does not fit one reply.
struct TemplateObject {
    static let getAttributeList: UInt8 = 0x03
    let tags: TagTable

    func serve(_ request: CIPRequest, limit: Int) throws(CIPStatus) -> CIPReply {
        guard request.path.segments.count == 2, case .instance(let id) = request.path.segments[1],
              let template = tags.templates[UInt16(truncatingIfNeeded: id)], id <= 0xFFFF else { throw .pathDestinationUnknown }
        var reader = WireReader(request.data)
        switch request.service {
        case Self.getAttributeList: return try attributes(template, &reader, service: request.service, limit: limit)
        case LogixServices.readTag: return try definition(template, &reader, limit: limit)
        default: throw .serviceNotSupported
        }
    }

    /// A list that would not fit one reply is refused whole with 0x11 (found
    /// by fuzzing: a request repeating an attribute drew a reply of any size).
    private func attributes(_ template: Template, _ reader: inout WireReader, service: UInt8, limit: Int) throws(CIPStatus) -> CIPReply {
        let count = try reader.u16()
        var out: [UInt8] = []
        out.append16(count)
        for _ in 0..<count {
            let id = try reader.u16()
            out.append16(id)
            switch id {
            case 1: out.append16(0); out.append16(template.handle)
            case 2: out.append16(0); out.append16(UInt16(template.members.count))
            // Undocumented; pylogix asks for it and skips two bytes of value.
            case 3: out.append16(0); out.append16(UInt16(template.size / 4))
            case 4: out.append16(0); out.append32(template.definitionWords)
            case 5: out.append16(0); out.append32(UInt32(template.size))
            default: out.append16(UInt16(CIPStatus.attributeNotSupported.general))
            }
            guard 4 + out.count <= limit else { throw .replyTooLarge }
        }
        return CIPReply(service: service, data: out)
    }

    /// Clients ask for more than there is (words × 4 − 21): they get what there is.
    private func definition(_ template: Template, _ reader: inout WireReader, limit: Int) throws(CIPStatus) -> CIPReply {
        let offset = Int(try reader.u32())
        let length = Int(try reader.u16())
        let bytes = template.definition
        guard offset <= bytes.count else { throw .offsetPastEnd }
        let end = min(offset + length, bytes.count)
        let sent = min(end - offset, limit - 4)
        return CIPReply(service: LogixServices.readTag, status: offset + sent < end ? .partialTransfer : .success,
                        data: Array(bytes[offset..<offset + sent]))
    }
}
