import Foundation
import NIOPosix
import TestSupport
import Testing
@testable import Modbus

/// tshark's Modbus/TCP dissector reads a capture of our client talking to our
/// server: every function we speak is decoded, none is malformed.
@Suite struct ModbusCaptureTests {
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
        let capture = try startCapture(into: file)
        defer { capture.stop(signal: SIGINT) }
        let client = try await ModbusTCPClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton)
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
        let probe = try Probe()
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

    /// dumpcap on loopback (one process: tshark -w leaves its dumpcap child
    /// still writing after it exits), started with every signal unblocked (a
    /// test thread's mask would be inherited), ready once its file is open.
    /// No capture filter: in this container a BPF filter on lo lets nothing
    /// through, so the port is chosen when reading instead.
    private func startCapture(into file: String) throws -> PeerProcess {
        let unblock = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])"
        let capture = try PeerProcess(Peers.python(), ["-c", unblock, try Peers.program("dumpcap"),
                                                       "-i", "lo", "-w", file])
        try capture.waitForError(containing: "File: ")
        try awaitLive(capture)
        return capture
    }

    /// dumpcap opens its file a moment before it sees packets: probe until
    /// it counts one.
    private func awaitLive(_ capture: PeerProcess) throws {
        let probe = try Probe()
        let deadline = Date().addingTimeInterval(10)
        while !capture.standardError.contains("Packets: ") {
            guard Date() < deadline else { throw Peers.Missing(description: "dumpcap saw no probe: \(capture.standardError)") }
            probe.send()
            usleep(50_000)
        }
    }

    private func tshark(_ file: String, port: Int, filter: String, fields: [String]) throws -> (status: Int32, text: String) {
        let arguments = ["-r", file, "-d", "tcp.port==\(port),mbtcp", "-Y", "tcp.port==\(port) && (\(filter))", "-T", "fields"] + fields.flatMap { ["-e", $0] }
        let output = try Peers.run(try Peers.program("tshark"), arguments)
        return (output.status, output.text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// UDP datagrams to the discard port of loopback: packets a capture of lo
/// must see, whose only purpose is to be seen.
private struct Probe: ~Copyable {
    private let socket: Int32
    private var address = sockaddr_in()

    init() throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socket >= 0 else { throw Peers.Missing(description: "no UDP socket: errno \(errno)") }
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(9).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
    }

    func send() {
        var target = address
        _ = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(socket, "probe", 5, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    deinit { close(socket) }
}
