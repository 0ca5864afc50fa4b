import Testing
@testable import Automata

@Suite struct ParserTests {
    @Test func literal() throws {
        #expect(try RegexParser.parse("ab", alphabet: .bytes) == .sequence([.symbols(SymbolSet(0x61)), .symbols(SymbolSet(0x62))]))
    }
}
