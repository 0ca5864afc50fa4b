import Foundation
import NIOPosix
import TestSupport
import Testing
@testable import Modbus

/// tshark's Modbus/TCP dissector reads a capture of our client talking to our
/// server: every function we speak is decoded, none is malformed.
@Suite(.ownThreads) struct ModbusCaptureTests {
    private let requests: [Request] = [
        .readCoils(address: 0, count: 10), .readDiscreteInputs(address: 0, count: 3),
        .readHoldingRegisters(address: 0, count: 20), .readInputRegisters(address: 0, count: 2),
        .writeSingleCoil(address: 3, value: true), .writeSingleRegister(address: 4, value: 0xBEEF),
        .writeMultipleCoils(address: 0, values: [true, false, true]),
        .writeMultipleRegisters(address: 10, values: [1, 2, 3]),
        .maskWriteRegister(address: 4, andMask: 0xFF00, orMask: 0x0012),
        .readWriteMultipleRegisters(readAddress: 0, readCount: 4, writeAddress: 20, values: [7, 8]),
        .readHoldingRegisters(address: 9000, count: 1),
        .readDeviceIdentification(category: 1, objectID: 0),
    ]

    @Test func tsharkDecodesOurTrafficWithNothingMalformed() async throws {
        let server = try await startServer(UnitMap(fallback: captureDevice()))
        let port = server.port
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-\(UUID().uuidString).pcapng").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let capture = try PacketCapture.start(into: file)
        defer { capture.stop(signal: SIGINT) }
        let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(10))
        for request in requests { _ = try await client.send(request) }
        await client.close()
        try await server.close()
        let expected: Set<UInt8> = [1, 2, 3, 4, 5, 6, 15, 16, 22, 23, 43]
        let functions = try decodedFunctions(file, port: port, until: expected, probing: capture)
        #expect(functions.isSuperset(of: expected), "\(functions.sorted())")
        let bad = try tshark(file, port: port, filter: "_ws.malformed || _ws.expert.severity >= error", fields: ["frame.number"])
        #expect(bad.text.isEmpty, "malformed frames: \(bad.text)")
        let exceptions = try tshark(file, port: port, filter: "modbus.exception_code", fields: ["modbus.exception_code"])
        #expect(exceptions.text == "2", "\(exceptions.text)")
    }

    /// The function codes tshark finds in the file, read again while probes
    /// push dumpcap's packet buffer to disk, until all expected are there.
    private func decodedFunctions(_ file: String, port: Int, until expected: Set<UInt8>, probing capture: PeerProcess) throws -> Set<UInt8> {
        let probe = try PacketCapture.Probe()
        let deadline = Date().addingTimeInterval(15)
        var functions: Set<UInt8> = []
        while !functions.isSuperset(of: expected) && Date() < deadline {
            probe.send()
            usleep(100_000)
            let output = try tshark(file, port: port, filter: "mbtcp", fields: ["modbus.func_code"])
            functions = Set(output.text.split(separator: "\n").compactMap { UInt8($0) })
        }
        return functions
    }

    private func captureDevice() -> ModbusDevice {
        let store = DataStore()
        store.define(.coils, at: 0, values: Array(repeating: 0, count: 16))
        store.define(.discreteInputs, at: 0, values: [1, 0, 1])
        store.define(.holdingRegisters, at: 0, values: Array(0..<30))
        store.define(.inputRegisters, at: 0, values: [11, 12])
        return ModbusDevice(store: store)
    }

    private func tshark(_ file: String, port: Int, filter: String, fields: [String]) throws -> (status: Int32, text: String) {
        let arguments = ["-r", file, "-d", "tcp.port==\(port),mbtcp", "-Y", "tcp.port==\(port) && (\(filter))", "-T", "fields"] + fields.flatMap { ["-e", $0] }
        let output = try Peers.run(try Peers.program("tshark"), arguments)
        return (output.status, output.text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
