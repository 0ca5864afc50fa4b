import Testing
@testable import EtherNetIP
import TestSupport

@Suite(.ownThreads) struct TemplateTests {
    private func table() throws -> TagTable {
        var tags = TagTable()
        try tags.addStructure(definition: "Motor=Run:BOOL,Fault:BOOL,Speed:REAL,Mode:SINT,Total:LINT,Flags:BOOL[40]")
        try tags.add(definition: "Pump=Motor")
        return tags
    }

    @Test func membersAreLaidOutAsLogixDoes() throws {
        let motor = try #require(try table().templates[0x100])
        let layout = motor.members.map { "\($0.name)@\($0.offset)" + ($0.bit.map { ".\($0)" } ?? "") }
        #expect(layout == ["ZZZZZZZZZZMotor0@0", "Run@0.0", "Fault@0.1", "Speed@4", "Mode@8", "Total@16", "Flags@24"])
        #expect(motor.size == 32, "rounded up to its 8-byte member")
        #expect(motor.member(named: "flags")?.type == .atomic(.dword) && motor.member(named: "flags")?.count == 2, "BOOL[40] as DWORD[2]")
        #expect(motor.member(named: "ZZZZZZZZZZMotor0") == nil, "the hidden host is not a member by name")
    }

    /// What clients read: member info, "NAME;n" and access bytes, names;
    /// exactly words x 4 - 20 bytes (pylogix reads that many).
    @Test func theDefinitionIsWhatClientsParse() throws {
        let string = Template.string
        #expect(Array(string.definition.prefix(16)) == [0, 0, 0xC4, 0, 0, 0, 0, 0, 82, 0, 0xC2, 0x20, 4, 0, 0, 0])
        let text = Array(string.definition.dropFirst(16))
        #expect(Array(text.prefix(9)) == Array("STRING;n".utf8) + [1], "name, then access bytes")
        #expect(text.split(separator: 0, omittingEmptySubsequences: true).dropFirst().map { String(decoding: $0, as: UTF8.self) } == ["LEN", "DATA"])
        #expect(Int(string.definitionWords) * 4 - 20 == string.definition.count)
    }

    @Test func aStructureReadsWithItsHandleAndItsBitsAreMembers() throws {
        let router = MessageRouter(tags: try table())
        func call(_ service: UInt8, _ path: [CIPPath.Segment], _ data: [UInt8]) -> CIPReply {
            router.handle(CIPRequest(service: service, path: CIPPath(path), data: data).bytes[...], limit: 504, session: 1)
        }
        #expect(call(0x4D, [.symbol("Pump"), .symbol("Fault")], [0xC1, 0, 1, 0, 0xFF]).status == .success)
        #expect(call(0x4D, [.symbol("Pump"), .symbol("Speed")], [0xCA, 0, 1, 0, 0, 0, 0x80, 0x3F]).status == .success)
        let whole = call(0x4C, [.symbol("Pump")], [1, 0])
        let handle = try #require(router.tags.templates[0x100]?.handle)
        #expect(Array(whole.data.prefix(4)) == [0xA0, 0x02, UInt8(handle & 0xFF), UInt8(handle >> 8)])
        #expect(whole.data[4] == 0b10, "Fault is bit 1 of the hidden SINT")
        #expect(Array(whole.data[8..<12]) == [0, 0, 0x80, 0x3F], "Speed 1.0 at offset 4")
        #expect(call(0x4C, [.symbol("Pump"), .symbol("Run")], [1, 0]).data == [0xC1, 0, 0])
        #expect(call(0x4C, [.symbol("Pump"), .symbol("Fault")], [1, 0]).data == [0xC1, 0, 1])
        #expect(call(0x4C, [.symbol("Pump"), .symbol("Nope")], [1, 0]).status == .pathDestinationUnknown)
        #expect(call(0x4D, [.symbol("Pump")], [0xC4, 0, 1, 0] + [UInt8](repeating: 0, count: 32)).status == .typeMismatch)
        var attributes: [UInt8] = []
        for id: UInt16 in [4, 3, 2, 1] { attributes.append16(id) }
        let template = call(0x03, [.classID(0x6C), .instance(0x100)], [4, 0] + attributes)
        #expect(template.status == .success && template.data.count == 2 + 8 + 6 + 6 + 6)
    }
}
