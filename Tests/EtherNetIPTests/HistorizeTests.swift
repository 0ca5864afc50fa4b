import Foundation
import TestSupport
import Testing

/// `fieldgw enip-server --historize`: pylogix reads and writes, cpppo's own
/// history reader reads the file back.
@Suite(.ownThreads) struct HistorizeTests {
    @Test func everyReadAndWriteIsRecordedAsCpppoRecordsThem() throws {
        try withHistorizingServer("historize", ["SCADA=INT[10]", "Temp=REAL"]) { path, port, _ in
            let pylogix = """
                import sys
                from pylogix import PLC
                with PLC("127.0.0.1") as plc:
                    plc.Port = int(sys.argv[1])
                    print(plc.Write("SCADA[2]", 5).Status, plc.Read("SCADA[0]", 4).Value, plc.Write("Temp", 21.5).Status, plc.Read("Temp").Value)
                """
            let client = try Peers.run(Peers.python(), ["-c", pylogix, port])
            #expect(client.text == "Success [0, 0, 5, 0] Success 21.5\n", "\(client.text) \(client.stderr)")
            let reader = """
                import sys, json
                from cpppo.history import opener, parse_record
                with opener(sys.argv[1]) as fd:
                    n = -1
                    while True:
                        try:
                            n, (ts, serial, data) = parse_record(fd, n)
                        except (StopIteration, RuntimeError):
                            break
                        print(json.dumps(serial), json.dumps(json.loads(data)))
                """
            let records = try Peers.run(Peers.cpppoPython(), ["-W", "ignore", "-c", reader, path])
            #expect(records.status == 0, "\(records.stderr)")
            let lines = records.text.split(separator: "\n").map(String.init)
            let expected = ["[\"SCADA\", [2, 2]] {\"write\": [5]}", "[\"SCADA\", [0, 3]] {\"read\": [0, 0, 5, 0]}",
                            "[\"Temp\", [0, 0]] {\"write\": [21.5]}", "[\"Temp\", [0, 0]] {\"read\": [21.5]}"]
            // pylogix reads a tag once to learn its type before it writes: those reads are recorded too.
            var remaining = expected[...]
            for line in lines where line == remaining.first { remaining.removeFirst() }
            #expect(remaining.isEmpty, "missing \(Array(remaining)) in \(lines)")
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasPrefix("# ") && text.contains(": Started recording Tag: SCADA\n") && text.contains(": Started recording Tag: Temp\n"))
        }
    }
}

/// Examples/TagHooks, read and written by pylogix.
@Suite(.ownThreads) struct TagHookExampleTests {
    @Test func loadAverageAndClockAreComputedOnEachRead() throws {
        let binary = URL(fileURLWithPath: try Peers.fieldgw()).deletingLastPathComponent().appendingPathComponent("tag-hooks-example").path
        let server = try PeerProcess(binary, ["127.0.0.1:0"])
        defer { server.stop() }
        let port = String(try server.waitForLine(startingWith: "tag-hooks-example: EtherNet/IP on ").split(separator: ":").last!)
        let pylogix = """
            import sys, json, time, datetime
            from pylogix import PLC
            with PLC("127.0.0.1") as plc:
                plc.Port = int(sys.argv[1])
                load = plc.Read("LoadAverage[0]", 3).Value
                first = plc.Read("Clock[0]", 7).Value
                time.sleep(1.1)
                second = plc.Read("Clock[0]", 7).Value
                now = datetime.datetime.now(datetime.timezone.utc)
                stamp = datetime.datetime(*second[:6], second[6], tzinfo=datetime.timezone.utc)
                written = plc.Write("Setpoint", 42.5).Status
                refused = plc.Write("Clock[0]", 1).Status
                print(json.dumps({"load": load, "moved": first != second, "skew": abs((now - stamp).total_seconds()),
                                  "written": written, "refused": refused}))
            """
        let output = try Peers.run(Peers.python(), ["-c", pylogix, port])
        let seen = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any], "\(output.text) \(output.stderr)")
        let load = try String(contentsOfFile: "/proc/loadavg", encoding: .utf8).split(separator: " ").prefix(3).compactMap { Double($0) }
        let served = try #require(seen["load"] as? [Double])
        // Load averages move slowly: what was served is within 2 of what /proc shows now.
        #expect(served.count == 3 && zip(served, load).allSatisfy { abs($0 - $1) < 2 }, "\(served) vs \(load)")
        #expect(seen["moved"] as? Bool == true)
        #expect((seen["skew"] as? Double ?? 99) < 2)
        #expect(seen["written"] as? String == "Success")
        #expect(seen["refused"] as? String != "Success")
        #expect(throws: Never.self) { try server.waitForLine(startingWith: "Setpoint <= [42.5]") }
    }
}

/// A read too big for one reply comes in parts: each part is recorded with
/// the elements it carried, together covering the whole read once.
@Suite(.ownThreads) struct HistorizeFragmentTests {
    @Test func eachPartOfABigReadNamesItsOwnElements() throws {
        try withHistorizingServer("historize-parts", ["SCADA=INT[1000]"]) { path, port, _ in
            // Unconnected, at most 504 bytes a reply: 2000 bytes come in five parts.
            let client = try Peers.run(try Peers.fieldgw(), ["enip-client", "-a", "127.0.0.1:\(port)", "SCADA[999]=(INT)7", "SCADA[0-999]"])
            #expect(client.status == 0, "\(client.text) \(client.stderr)")
            let reader = """
                import sys, json
                for line in open(sys.argv[1]):
                    if line.startswith("#"): continue
                    stamp, serial, data = line.split("\\t", 2)
                    serial, data = json.loads(serial), json.loads(data)
                    if "read" in data and serial[1][1] - serial[1][0] > 0:
                        print(serial[1][0], serial[1][1], len(data["read"]), data["read"][-1])
                """
            let parts = try Peers.run(Peers.python(), ["-c", reader, path]).text.split(separator: "\n").map { $0.split(separator: " ").compactMap { Int($0) } }
            #expect(parts.count > 1, "a read of 2000 bytes comes in parts: \(parts)")
            var next = 0
            for part in parts where part.count == 4 {
                #expect(part[0] == next && part[1] - part[0] + 1 == part[2], "\(part)")
                next = part[1] + 1
            }
            #expect(next == 1000 && parts.last?.last == 7, "\(parts)")
        }
    }
}

/// A write through the web API is a write: `--historize` records it, as
/// cpppo's web API writes go through the attribute's `__setitem__`.
@Suite(.ownThreads) struct HistorizeWebTests {
    @Test func aWebAPIWriteIsRecorded() throws {
        let directory = try Peers.scratchDirectory("historize-web").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tags.hst"
        let server = try PeerProcess(try Peers.fieldgw(), ["enip-server", "-a", "127.0.0.1:0", "--web", "127.0.0.1:0", "--historize", path,
                                                           "SCADA=INT[10]"])
        defer { server.stop() }
        let web = Int(try server.waitForLine(startingWith: "enip-server: web API on http://127.0.0.1:").prefix { $0.isNumber })!
        let set = try Peers.run(try Peers.program("curl"), ["-gsf", "http://127.0.0.1:\(web)/api/tags/SCADA/attribute[2]=5"])
        #expect(set.status == 0)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\t[\"SCADA\", [2, 2]]\t{\"write\": [5]}\n"), "\(text)")
    }
}

/// A crash loses nothing acknowledged: each write pylogix saw succeed is in
/// the file after the server is killed with SIGKILL (no chance to flush).
@Suite(.ownThreads) struct HistorizeCrashTests {
    @Test func everyAcknowledgedWriteSurvivesSIGKILL() throws {
        try withHistorizingServer("crash", ["SCADA=DINT[10]"]) { path, port, server in
            let pylogix = """
                import sys
                from pylogix import PLC
                with PLC("127.0.0.1") as plc:
                    plc.Port = int(sys.argv[1])
                    print(sum(plc.Write("SCADA[1]", n).Status == "Success" for n in range(1, 201)))
                """
            let client = try Peers.run(Peers.python(), ["-c", pylogix, port])
            #expect(client.text == "200\n", "\(client.text) \(client.stderr)")
            kill(server.processIdentifier, SIGKILL)
            server.stop()
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let written = text.split(separator: "\n").filter { $0.contains("[\"SCADA\", [1, 1]]\t{\"write\": [") }
            #expect(written.count == 200, "every acknowledged write is on disk")
            #expect(written.last?.hasSuffix("{\"write\": [200]}") == true)
        }
    }
}

/// `fieldgw enip-server --historize` serving `tags` on a port of its own,
/// writing to a scratch directory: `body` gets the file's path, the port and
/// the server; then the server is stopped and the directory removed.
private func withHistorizingServer(_ name: String, _ tags: [String], _ body: (_ path: String, _ port: String, _ server: PeerProcess) throws -> Void) throws {
    let directory = try Peers.scratchDirectory(name).path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/tags.hst"
    let server = try PeerProcess(try Peers.fieldgw(), ["enip-server", "-a", "127.0.0.1:0", "--historize", path] + tags)
    defer { server.stop() }
    let port = String(try server.waitForLine(startingWith: "enip-server: EtherNet/IP on ").split(separator: ":").last!)
    try body(path, port, server)
}
