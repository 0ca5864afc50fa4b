import Foundation
import TestSupport
import Testing
@testable import EtherNetIP

/// EIPScanner, a C++ scanner with implicit messaging, as the PLC: it opens
/// Class 1 connections to the server's assemblies, receives the inputs every
/// RPI and sends the outputs (Tests/Peers/eip_originator.cpp drives it).
///
/// EIPScanner always listens for inputs on UDP port 2222, every address:
/// two of its processes at once would take each other's packets, so these
/// tests run one at a time, holding `EIPScannerPort` against other suites
/// and processes, and no other test sends inputs to 2222.
@Suite(.serialized, .ownThreads) struct EIPScannerTests {
    /// RPI 10 ms, timeouts of 64 RPIs: a loaded machine may hold either side's thread for some 100 ms.
    private func originator(_ bench: IOBench, points: [Int], outputSize: Int, inputSize: Int = 4) throws -> PeerProcess {
        try PeerProcess(Peers.built("eip_originator"),
                        ["127.0.0.1", "\(bench.server.port)"] + points.map(String.init) + ["\(outputSize)", "\(inputSize)", "10", "4"])
    }

    private func line(_ scanner: PeerProcess, _ prefix: String) async throws {
        _ = try await offPool { try scanner.waitForLine(startingWith: prefix) }
    }

    @Test func anOwnerExchangesAssembliesGoesIdleTimesOutAndReconnects() async throws {
        let port = try await EIPScannerPort.acquire()
        defer { port.release() }
        let bench = try await IOBench()
        defer { Task { try await bench.server.close() } }
        bench.input.store([1, 2, 3, 4])
        let scanner = try originator(bench, points: [151, 150, 100], outputSize: 4)
        defer { scanner.stop(signal: SIGKILL) }
        try await line(scanner, "open ok")
        try await line(scanner, "in 01020304")
        bench.input.store([5, 6, 7, 8])
        try await line(scanner, "in 05060708")

        scanner.send("out 2a000700")
        #expect(try await eventually { bench.output.bytes == [0x2A, 0, 7, 0] })
        let open = try #require(bench.io.connections.first)
        #expect(open.kind == "exclusive owner" && open.originator == "127.0.0.1" && open.running == true && open.rpiIn == .milliseconds(10))

        scanner.send("idle")
        #expect(try await eventually { bench.output.bytes == [0x11, 0x11, 0, 0] && bench.io.connections.first?.running == false })
        scanner.send("run")
        #expect(try await eventually { bench.output.bytes == [0x2A, 0, 7, 0] })

        // The scanner falls silent: the server closes the connection and takes the timeout action;
        // its inputs stop, and the scanner's own watchdog closes its end.
        scanner.send("stop")
        #expect(try await eventually { bench.io.count == 0 && bench.output.bytes == [0xEE, 0xEE, 0, 0] })
        #expect(bench.io.timeouts == 1)
        try await line(scanner, "closed")

        scanner.send("reopen")
        try await line(scanner, "open ok")
        #expect(try await eventually { bench.output.bytes == [0x2A, 0, 7, 0] })
        bench.input.store([9, 9, 9, 9])
        try await line(scanner, "in 09090909")
        scanner.send("close")
        try await line(scanner, "close ok")
        #expect(try await eventually { bench.io.count == 0 && bench.output.bytes == [0x11, 0x11, 0, 0] })
    }

    @Test func anInputOnlyConnectionReceivesTheInputsAndWritesNothing() async throws {
        let port = try await EIPScannerPort.acquire()
        defer { port.release() }
        let bench = try await IOBench()
        defer { Task { try await bench.server.close() } }
        bench.input.store([0xCA, 0xFE, 0, 1])
        let scanner = try originator(bench, points: [151, 198, 100], outputSize: 0)
        defer { scanner.stop(signal: SIGKILL) }
        try await line(scanner, "open ok")
        try await line(scanner, "in cafe0001")
        bench.input.store([0xCA, 0xFE, 0, 2])
        try await line(scanner, "in cafe0002")
        #expect(bench.io.connections.first?.kind == "input only")
        #expect(try await eventually { (bench.io.connections.first?.consumed ?? 0) >= 10 }, "the heartbeats arrive")
        #expect(bench.writes.all.isEmpty)
    }

    /// A listen-only connection beside an exclusive owner, in one scanner
    /// (both take their inputs from its port 2222): it gets the inputs the
    /// owner's connection makes produced, and ends when the owner closes.
    @Test func aListenOnlyConnectionBesideAnOwnerGetsTheInputsAndEndsWithIt() async throws {
        let port = try await EIPScannerPort.acquire()
        defer { port.release() }
        let bench = try await IOBench()
        defer { Task { try await bench.server.close() } }
        bench.input.store([0xBE, 0xEF, 0, 1])
        let scanner = try originator(bench, points: [151, 150, 100], outputSize: 4)
        defer { scanner.stop(signal: SIGKILL) }
        try await line(scanner, "open ok")
        scanner.send("listen 199")
        try await line(scanner, "listen ok")
        try await line(scanner, "listen in beef0001")
        bench.input.store([0xBE, 0xEF, 0, 2])
        try await line(scanner, "listen in beef0002")
        #expect(Set(bench.io.connections.map(\.kind)) == ["exclusive owner", "listen only"])
        scanner.send("close")
        try await line(scanner, "listen closed")
        #expect(try await eventually { bench.io.count == 0 })
    }
}
