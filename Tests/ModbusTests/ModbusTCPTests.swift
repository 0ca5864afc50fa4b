import Foundation
import NIOCore
import NIOPosix
import TestSupport
import Testing
@testable import Modbus

/// The simulator's devices on our Modbus/TCP server, on a port of its own.
func startServer(_ units: UnitMap = UnitMap(fallback: holdingDevice(Array(0..<100))), port: Int = 0) async throws -> ModbusTCPServer {
    try await ModbusTCPServer.start(host: "127.0.0.1", port: port, serving: DeviceServing(units: units),
                                    group: MultiThreadedEventLoopGroup.singleton)
}

@Suite(.ownThreads) struct MBAPCodecTests {
    private let frame = MBAPFrame(transaction: 0x1234, unit: 7, pdu: [3, 0, 0, 0, 10])
    private var bytes: [UInt8] {
        var buffer = ByteBuffer()
        MBAPEncoder.write(frame, to: &buffer)
        return buffer.readBytes(length: buffer.readableBytes)!
    }

    @Test func layoutIsTheSpecifications() {
        #expect(bytes == [0x12, 0x34, 0, 0, 0, 6, 7, 3, 0, 0, 0, 10])
    }

    @Test func framesComeWholeHoweverTheBytesArrive() throws {
        var buffer = ByteBuffer()
        var frames: [MBAPFrame] = []
        for byte in bytes + bytes {
            buffer.writeInteger(byte)
            while let next = try MBAPDecoder.frame(from: &buffer) { frames.append(next) }
        }
        #expect(frames == [frame, frame])
        var batch = ByteBuffer(bytes: bytes + bytes + bytes.prefix(3))
        #expect(try MBAPDecoder.frame(from: &batch) == frame)
        #expect(try MBAPDecoder.frame(from: &batch) == frame)
        #expect(try MBAPDecoder.frame(from: &batch) == nil && batch.readableBytes == 3)
    }

    @Test(arguments: [[0, 1, 0, 1, 0, 6, 1], [0, 1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 255, 1], [0, 1, 0, 0, 0, 1, 1]] as [[UInt8]])
    func badHeadersAreRefused(header: [UInt8]) {
        var buffer = ByteBuffer(bytes: header + [3, 0, 0, 0, 1])
        #expect(throws: MBAPError.self) { try MBAPDecoder.frame(from: &buffer) }
    }
}

@Suite(.ownThreads) struct ModbusTCPTests {
    @Test func ourClientAndServer() async throws {
        let server = try await startServer()
        let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(10))
        #expect(try await client.send(.readHoldingRegisters(address: 10, count: 3)) == .registers([10, 11, 12]))
        #expect(try await client.send(.writeSingleRegister(address: 10, value: 5)) == .writeSingleRegister(address: 10, value: 5))
        #expect(try await client.send(.readHoldingRegisters(address: 10, count: 1)) == .registers([5]))
        #expect(try await client.send(.readHoldingRegisters(address: 99, count: 2)) == .exception(.init(function: 3, code: .illegalDataAddress)))
        #expect(try await client.send(.init(pdu: [0x03, 0x00, 0x00, 0x00, 0x01][...])) == .registers([0]))
        await client.close()
        try await server.close()
    }

    @Test func pipelinedRequestsComeBackInOrderWithTheirIds() async throws {
        let server = try await startServer()
        // Order and ids are what this tests: the timeout leaves room for a machine loaded by the whole suite.
        let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton, depth: 16,
                                                       timeout: .seconds(10))
        try await withThrowingTaskGroup(of: (Int, Response).self) { group in
            for index in 0..<400 {
                group.addTask { (index, try await client.send(.readHoldingRegisters(address: UInt16(index % 100), count: 1))) }
            }
            for try await (index, response) in group { #expect(response == .registers([UInt16(index % 100)])) }
        }
        await client.close()
        try await server.close()
    }

    @Test func anUnknownFunctionAndAnUnservedUnitAreExceptions() async throws {
        let server = try await startServer(UnitMap(devices: [1: holdingDevice([1])]))
        let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(10))
        #expect(try await client.send(.readHoldingRegisters(address: 0, count: 1), unit: 9) == .exception(.init(function: 3, code: .gatewayPathUnavailable)))
        let raw = try RawConnection(port: server.port)
        raw.send([0, 9, 0, 0, 0, 3, 1, 0x44, 0])
        #expect(raw.receive(count: 9) == [0, 9, 0, 0, 0, 3, 1, 0xC4, 0x01], "exception 1, with the transaction id")
        await client.close()
        try await server.close()
    }

    @Test func aBadHeaderClosesOnlyThatConnection() async throws {
        let server = try await startServer()
        let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: server.port, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(10))
        let bad = try RawConnection(port: server.port)
        bad.send([0, 1, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1])  // protocol id 7
        #expect(bad.readsEndOfFile(within: 2), "the server closed the bad connection")
        #expect(try await client.send(.readHoldingRegisters(address: 1, count: 1)) == .registers([1]), "the other connection goes on")
        await client.close()
        try await server.close()
    }

    @Test func pymodbusClientAgainstOurServer() async throws {
        let server = try await startServer()
        let output = try Peers.run(Peers.python(), [peer("pymodbus_client.py"), "tcp", "127.0.0.1", "\(server.port)"])
        try await server.close()
        try expectPymodbusSawOurDevice(output)
    }

    @Test func mbpollAgainstOurServer() async throws {
        let server = try await startServer()
        let output = try Peers.run(Peers.program("mbpoll"), ["-m", "tcp", "-a", "1", "-r", "3", "-c", "4", "-1", "-p", "\(server.port)", "127.0.0.1"])
        try await server.close()
        #expect(output.status == 0, "\(output.stderr)")
        // mbpoll numbers registers from 1: -r 3 is protocol address 2.
        for (register, value) in [(3, 2), (4, 3), (5, 4), (6, 5)] { #expect(output.text.contains("[\(register)]: \t\(value)"), "\(output.text)") }
    }

    @Test func ourClientAgainstPymodbusServer() async throws {
        let peerServer = try PeerProcess(Peers.python(), [peer("pymodbus_server.py"), "tcp"])
        defer { peerServer.stop() }
        let port = try #require(Int(try peerServer.waitForLine(startingWith: "ready ")))
        let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton, depth: 4, timeout: .seconds(10))
        #expect(try await client.send(.readHoldingRegisters(address: 0, count: 5)) == .registers([0, 1, 2, 3, 4]))
        #expect(try await client.send(.writeMultipleRegisters(address: 1, values: [9, 8])) == .writeMultiple(address: 1, count: 2))
        #expect(try await client.send(.readHoldingRegisters(address: 0, count: 3)) == .registers([0, 9, 8]))
        #expect(try await client.send(.readInputRegisters(address: 2, count: 2)) == .registers([1002, 1003]))
        #expect(try await client.send(.writeMultipleCoils(address: 0, values: [true, true, false])) == .writeMultiple(address: 0, count: 3))
        #expect(try await client.send(.readCoils(address: 0, count: 3)) == .bits([true, true, false]))
        #expect(try await client.send(.readHoldingRegisters(address: 200, count: 1)) == .exception(.init(function: 3, code: .illegalDataAddress)))
        await client.close()
    }
}

func peer(_ script: String) -> String {
    Peers.packageRoot.appendingPathComponent("Tests/ModbusTests/Peers/\(script)").path
}

func expectPymodbusSawOurDevice(_ output: Peers.Output, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(output.status == 0, "\(output.stderr)", sourceLocation: sourceLocation)
    let seen = try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any]
    #expect(seen?["read"] as? [Int] == Array(0..<10), sourceLocation: sourceLocation)
    #expect(seen?["after_write"] as? [Int] == [0, 1, 222, 333, 4], sourceLocation: sourceLocation)
    #expect(seen?["after_single"] as? [Int] == [444], sourceLocation: sourceLocation)
    #expect(seen?["coils"] as? [Bool] == [true, false, true], sourceLocation: sourceLocation)
    #expect(seen?["missing_exception"] as? Int == 2, sourceLocation: sourceLocation)
    #expect(seen?["pipelined"] as? [Int] == [5, 6, 7, 8, 9], sourceLocation: sourceLocation)
}
