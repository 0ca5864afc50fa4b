import NIOPosix
import TestSupport
import Testing
@testable import EtherNetIP

@Suite(.ownThreads) struct TagOperationTests {
    @Test func cppposSyntaxParses() throws {
        let range = try TagOperation(parsing: "SCADA[0-10]")
        #expect(range.path.segments == [.symbol("SCADA"), .element(0)] && range.elements == 11 && range.write == nil)
        let write = try TagOperation(parsing: "SCADA[1-3]=(DINT)1,-2,3")
        #expect(write.elements == 3 && write.write?.type == .dint)
        #expect(write.write?.data == [1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, 3, 0, 0, 0])
        #expect(try TagOperation(parsing: "Temp=1.5").write?.type == .real, "a '.' makes it REAL, as cpppo does")
        #expect(try TagOperation(parsing: "Count=7").write == .init(type: .int, data: [7, 0]), "otherwise INT")
        #expect(try TagOperation(parsing: "Pumps[1].Counts[2]").path.segments == [.symbol("Pumps"), .element(1), .symbol("Counts"), .element(2)])
        #expect(try TagOperation(parsing: "Grid[1,2]").path.segments == [.symbol("Grid"), .element(1), .element(2)])
        let star = try TagOperation(parsing: "SCADA[2]*5")
        #expect(star.elements == 5 && star.offset == nil && star.path.segments == [.symbol("SCADA"), .element(2)], "*N counts elements")
        let fromByte = try TagOperation(parsing: "SCADA[0-9]+4=(INT)7,8")
        #expect(fromByte.offset == 4 && fromByte.elements == 10 && fromByte.write?.data == [7, 0, 8, 0], "a part of a range, from byte 4")
        let numeric = try TagOperation(parsing: "@0x01/1/7")
        #expect(numeric.numeric && numeric.path.segments == [.classID(1), .instance(1), .attribute(7)])
        // cpppo reads numbers as Python's int(text, 0) does: its README's @0o1/0o1/0o7 and @0b100110/1/1.
        #expect(try TagOperation(parsing: "@0o1/0o1/0o7").path.segments == [.classID(1), .instance(1), .attribute(7)])
        #expect(try TagOperation(parsing: "@0b100110/1/1").path.segments == [.classID(38), .instance(1), .attribute(1)])
        #expect(try TagOperation(parsing: "@0X93/0B11").path.segments == [.classID(0x93), .instance(3)])
        #expect(try TagOperation(parsing: #"@4/5/{"connection":100}"#).path.bytes == [0x20, 4, 0x24, 5, 0x2C, 100], "cpppo's JSON segments")
        #expect(try TagOperation(parsing: #"@{"class":0x93}/{"instance":300}/10"#).path.segments == [.classID(0x93), .instance(300), .attribute(10)])
        #expect(try TagOperation(parsing: #"@{"symbolic":"SCADA"}/{"element":2}"#).path.segments == [.symbol("SCADA"), .element(2)])
    }

    @Test(arguments: ["SCADA[1-3]=1,2", "SCADA[3-1]", "Temp=(REAL)x", "Count=(SINT)300", "=5", "@1", "A[1", "9Tag", "SCADA[0-3]+3=(INT)1", "SCADA[0-1]+2=(INT)1,2", "SCADA*0", "SCADA+x", #"@1/{"bogus":1}"#, "@1/1/1/1/1", "@0o8/1", "@0b2/1", "@0x/1"])
    func mistakesAreNamed(text: String) {
        #expect(throws: TagOperationError.self) { try TagOperation(parsing: text) }
    }

    /// cpppo's client reads and writes a numeric address with Read/Write Tag;
    /// its get_attribute (ours: attributeServices) with Get/Set Attribute.
    @Test func numericAddressesTakeElementsAndPorts() throws {
        let element = try TagOperation(parsing: "@2/1/1[2]=(DINT)5")
        #expect(element.path.segments == [.classID(2), .instance(1), .attribute(1), .element(2)] && !element.attributeServices)
        #expect(element.elements == 1 && element.write?.data == [5, 0, 0, 0])
        let range = try TagOperation(parsing: "@0x2/0o1/0b1[0-3]")
        #expect(range.path.segments == [.classID(2), .instance(1), .attribute(1), .element(0)] && range.elements == 4)
        let port = try TagOperation(parsing: #"@{"port":1,"link":0}/2/1/1"#)
        #expect(port.path.bytes == [0x01, 0x00, 0x20, 2, 0x24, 1, 0x30, 1], "port 1, link 0 (backplane, slot 0), then the address")
        let address = try TagOperation(parsing: #"@{"port":2,"link":"10.0.0.1"}/1/1"#)
        #expect(address.path.segments.first == .port(2, link: Array("10.0.0.1".utf8)))
        #expect(try TagOperation(parsing: #"@{"symbolic":"SCADA"}/{"element":1}"#).path.segments == [.symbol("SCADA"), .element(1)])
        #expect(try TagOperation(parsing: #"{"symbolic":"SCADA"}/{"element":1}"#).path.segments == [.symbol("SCADA"), .element(1)], "with or without @")
        #expect(try TagOperation(parsing: "Real[0-1]=9.9,10").write?.shown == ["9.9", "10.0"], "as Python prints what cpppo parsed")
        #expect(try TagOperation(parsing: "SCADA[0-1]=(INT)+5,007").write?.shown == ["5", "7"])
        #expect(try TagOperation(parsing: "@1/1", attributeServices: true).attributeServices)
        #expect(throws: TagOperationError.self, "Set Attribute needs an attribute") { try TagOperation(parsing: "@1/1=4", attributeServices: true) }
        #expect(throws: TagOperationError.self) { try TagOperation(parsing: #"@{"port":1}/1/1"#) }
        #expect(throws: TagOperationError.self) { try TagOperation(parsing: "@2/1/1[x]") }
    }

    /// The lines cpppo 5.2.5's client prints with -p, copied from it.
    @Test func resultsPrintAsCpppoPrintsThem() throws {
        func result(_ text: String, _ status: CIPStatus = .success, type: [UInt8] = [], data: [UInt8] = []) throws -> TagResult {
            TagResult(operation: try TagOperation(parsing: text), status: status, type: type, data: data)
        }
        #expect(try result("SCADA[1]=99").cpppoLine == "            SCADA[1][  1-1  ]+  0 <= [99]: 'OK'")
        #expect(try result("SCADA[0-2]", type: [0xC3, 0], data: [0, 0, 99, 0, 0, 0]).cpppoLine
            == "            SCADA[0][  0-2  ]+  0 == [0, 99, 0]: 'OK'")
        #expect(try result("Real[0-1]", type: [0xCA, 0], data: Float(9.9).bytes + Float(10).bytes).cpppoLine
            == "             Real[0][  0-1  ]+  0 == [9.899999618530273, 10.0]: 'OK'", "a REAL as Python prints it widened to a double")
        #expect(try result("Real[0-1]=9.9,10").cpppoLine == "             Real[0][  0-1  ]+  0 <= [9.9, 10.0]: 'OK'")
        #expect(try result("SCADA", type: [0xC3, 0], data: [5, 0]).cpppoLine == "               SCADA              == [5]: 'OK'")
        #expect(try result("@2/1/1", type: [0xC3, 0], data: [5, 0]).cpppoLine == "         @0x0002/1/1              == [5]: 'OK'")
        #expect(try result("@2/1/1[2]=(DINT)5", CIPStatus(0xFF, extended: [0x2107])).cpppoLine
            == "      @0x0002/1/1[2][  2-2  ]+  0 <= [5]: 'Status 255 [8455]'")
        #expect(try result("SCADA[2000]", CIPStatus(0xFF, extended: [0x2105])).cpppoLine
            == "         SCADA[2000][2000-2000]+  0 == None: 'Status 255 [8453]'")
        #expect(try result("Tag[0-9]+16=(DINT)4,5,6,7,8,9").cpppoLine == "              Tag[0][  0--7 ]+ 16 <= [4, 5, 6, 7, 8, 9]: 'OK'",
                "cpppo counts elements less the byte offset")
        #expect(try result("TAG[4-6]=(INT)1,2,3", .pathDestinationUnknown).cpppoLine == "              TAG[4][  4-6  ]+  0 <= [1, 2, 3]: 'Status 5 '")
        let attribute = TagResult(operation: try TagOperation(parsing: "@1/1/1", attributeServices: true), status: .success, type: [], data: [1, 0])
        #expect(attribute.cpppoAttributeLine(multiple: false) == "Single G_A_S      @0x0001/1/1 == [1, 0]")
        let set = TagResult(operation: try TagOperation(parsing: "@0x93/3/10=(REAL)7.5", attributeServices: true), status: .success, type: [], data: [])
        #expect(set.cpppoAttributeLine(multiple: true) == "Multi. S_A_S      @0x0093/3/10 == True")
    }
}

extension Float {
    /// Little-endian bytes.
    fileprivate var bytes: [UInt8] { withUnsafeBytes(of: bitPattern.littleEndian) { Array($0) } }
}

@Suite(.ownThreads) struct ENIPClientTests {
    private func operations(_ texts: [String]) throws -> [TagOperation] { try texts.map { try TagOperation(parsing: $0) } }

    private func collect(_ stream: AsyncThrowingStream<TagResult, any Error>) async throws -> [TagResult] {
        var results: [TagResult] = []
        for try await result in stream { results.append(result) }
        return results
    }

    @Test(arguments: [(false, 1, 0), (false, 8, 0), (true, 8, 300), (false, 4, 500), (true, 1, 0)])
    func resultsComeInOrderHoweverTheyAreSent(connected: Bool, depth: Int, multiple: Int) async throws {
        let server = try await startTagServer()
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton)
        if connected { try await client.forwardOpen() }
        let writes = try operations((0..<40).map { "SCADA[\($0)]=(INT)\($0 * 3)" })
        #expect(try await collect(client.perform(writes, depth: depth, multiple: multiple)).allSatisfy { $0.status == .success })
        let reads = try operations((0..<40).map { "SCADA[\($0)]" } + ["SCADA[0-999]", "Nope", "Temp"])
        let results = try await collect(client.perform(reads, depth: depth, multiple: multiple))
        #expect(results.map(\.operation) == reads)
        #expect(results.prefix(40).map { $0.values ?? [] } == (0..<40).map { ["\($0 * 3)"] })
        #expect(results[40].values?.count == 1000 && results[40].values?[39] == "117", "a whole array, in fragments")
        #expect(results[41].status == .pathDestinationUnknown && results[42].values == ["0.0"])
        #expect(server.router.connections.count == (connected ? 1 : 0))
        await client.close()
        try await server.close()
    }

    /// Requests go out in the order given, however deep the pipeline: each
    /// read sees the write just before it.
    @Test func aReadAfterAWriteSeesItAtAnyDepth() async throws {
        let server = try await startTagServer()
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton)
        let pairs = (0..<50).flatMap { ["SCADA[7]=(INT)\($0)", "SCADA[7]"] }
        let results = try await collect(client.perform(try operations(pairs), depth: 16))
        #expect(stride(from: 1, to: results.count, by: 2).map { results[$0].values ?? [] } == (0..<50).map { ["\($0)"] })
        await client.close()
        try await server.close()
    }

    @Test func byteOffsetsAndCountsGoFragmented() async throws {
        let server = try await startTagServer()
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton)
        let results = try await collect(client.perform(try operations(["SCADA[0-9]=(INT)0,1,2,3,4,5,6,7,8,9", "SCADA[0-9]+4=(INT)70,80",
                                                                       "SCADA[0-9]+6", "SCADA*4"]) + [try TagOperation(parsing: "@0x01/1/1", attributeServices: true)]))
        #expect(results.map(\.status) == Array(repeating: .success, count: 5))
        #expect(results[2].values == ["80", "4", "5", "6", "7", "8", "9"], "elements 3-9, from byte 6, after the write at byte 4")
        #expect(results[3].values == ["0", "1", "70", "80"])
        #expect(results[4].data == [1, 0], "vendor 1, by Get Attribute Single")
        await client.close()
        try await server.close()
    }

    @Test func aLargeWriteGoesInFragmentsAndTheTagListIsRead() async throws {
        let server = try await startTagServer()
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton)
        let values = (0..<1000).map { String($0 - 500) }
        let results = try await collect(client.perform(try operations(["SCADA[0-999]=" + values.joined(separator: ","), "SCADA[0-999]"])))
        #expect(results[0].status == .success && results[1].values == values)
        let listed = try await client.listTags()
        #expect(listed.map(\.name) == ["SCADA", "Temp", "Grid", "Flags", "Label", "Pump", "Pumps"])
        #expect(listed.map(\.typeDescription) == ["INT[1000]", "REAL", "DINT[4,8]", "DWORD[2]", "structure 0xfce", "structure 0x100", "structure 0x100[3]"])
        await client.close()
        try await server.close()
    }

    @Test func aClientOutsideTheAllowListIsRefusedAndOthersServed() async throws {
        let server = try await ENIPServer.start(host: "127.0.0.1", port: 0, router: MessageRouter(tags: TagTable()),
                                                group: MultiThreadedEventLoopGroup.singleton, accepts: { _ in false })
        await #expect(throws: (any Error).self) { try await ENIPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton) }
        try await server.close()
        let open = try await ENIPServer.start(host: "127.0.0.1", port: 0, router: MessageRouter(tags: TagTable()),
                                              group: MultiThreadedEventLoopGroup.singleton, accepts: { $0?.ipAddress == "127.0.0.1" })
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: open.port, group: MultiThreadedEventLoopGroup.singleton)
        await client.close()
        try await open.close()
    }

    /// Garbage on one connection (random bytes, then a header promising more
    /// than comes) disturbs nobody else.
    @Test func garbageOnOneConnectionLeavesTheOthersAlone() async throws {
        let server = try await startTagServer()
        let garbage = try RawConnection(port: server.port)
        var generator = SystemRandomNumberGenerator()
        garbage.send((0..<10_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        garbage.send([0x6F, 0, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 20))
        let client = try await ENIPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton)
        let results = try await collect(client.perform(try operations(["SCADA[0-9]", "Temp"])))
        #expect(results.map(\.status) == [.success, .success])
        await client.close()
        try await server.close()
    }

    @Test func discoveryFindsTheServer() async throws {
        let server = try await startTagServer(host: "0.0.0.0")
        // Asked again until it answers (at most 20 times): under the full suite
        // the machine can be too busy to answer within one half-second window.
        var found: [DiscoveredDevice] = []
        for _ in 0..<20 where found.isEmpty {
            found = try await ENIPClient.discover(host: "127.0.0.1", port: server.port, wait: .milliseconds(500), group: MultiThreadedEventLoopGroup.singleton)
        }
        #expect(found.map(\.productName) == ["1756-L61/B LOGIX5561"] && found.first?.address == "127.0.0.1")
        try await server.close()
    }
}
