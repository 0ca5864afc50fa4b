import Foundation
import History
import Testing
import TestSupport

/// The historian's files against cpppo's own `history.logger` and `history.reader`.
@Suite(.ownThreads) struct HistoryFilesTests {
    static let values: [JSONValue] = [
        .object([("40001", .int(0)), ("40002", .array([.int(1), .int(-2), .int(65535)]))]),
        .object([("Temp", .double(21.5)), ("tiny", .double(1e-05)), ("big", .double(1e16)), ("third", .double(1.0 / 3))]),
        .array([.double(100.0), .double(-0.0), .double(123456789.125), .double(.nan), .double(.infinity)]),
        .object([("name", .string("Motor \"A\"\tµ\\")), ("on", .bool(true)), ("none", .null)]),
        .string("\u{1F600} ünïcödé"),
    ]

    private func temporaryDirectory() throws -> String {
        let path = try Peers.scratchDirectory("history").path
        return path
    }

    @Test func linesAreTheBytesCpppoWrites() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ours = directory + "/ours.hst", theirs = directory + "/theirs.hst"
        let writer = try HistoryWriter(path: ours)
        for (index, value) in Self.values.enumerated() {
            try writer.write(value, serial: .int(Int64(index)), at: Timestamp(1400000000.0 + Double(index) * 0.125))
        }
        try writer.comment("a comment")
        try writer.close()
        let script = """
            import sys, json
            from cpppo.history import logger
            log = logger(sys.argv[1])
            for index, line in enumerate(sys.stdin):
                log.write(json.loads(line), now=1400000000.0 + index * 0.125, serial=index)
            log.comment("a comment")
            log.close()
            """
        let input = Self.values.map(\.text).joined(separator: "\n") + "\n"
        let output = try Peers.run(try Peers.cpppoPython(), ["-W", "ignore", "-c", script, theirs], input: Data(input.utf8))
        #expect(output.status == 0, "\(output.stderr)")
        let mine = try String(contentsOfFile: ours, encoding: .utf8), cpppo = try String(contentsOfFile: theirs, encoding: .utf8)
        #expect(mine == cpppo)
        #expect(mine.hasPrefix("2014-05-13 16:53:20.000\t0\t{\"40001\": 0, \"40002\": [1, -2, 65535]}\n"))
        for (line, value) in zip(mine.split(separator: "\n"), Self.values) {
            let data = try JSONValue(parsing: line.split(separator: "\t", maxSplits: 2)[2])
            #expect(data == value)
        }
    }

    /// The JSON written as it goes is the JSON of the tree.
    @Test func jsonWriterWritesWhatJSONValueWrites() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try HistoryWriter(path: directory + "/w.hst")
        let time = Timestamp(1400000000.5)
        try writer.write(serial: .int(3), at: time) { json in
            json.object { json in
                json.key("a"); json.value(Int64(-12345678901))
                json.key("b"); json.array { json in json.value(0.5); json.value("x\"y"); json.value(true); json.null(); json.value(Self.values[0]) }
                json.key("c"); json.object { _ in }
                json.key("d"); json.array { json in json.array { _ in }; json.value(7) }
            }
        }
        try writer.close()
        let tree = JSONValue.object([("a", .int(-12345678901)),
                                     ("b", .array([.double(0.5), .string("x\"y"), .bool(true), .null, Self.values[0]])),
                                     ("c", .object([])), ("d", .array([.array([]), .int(7)]))])
        #expect(try String(contentsOfFile: directory + "/w.hst", encoding: .utf8) == "2014-05-13 16:53:20.500\t3\t" + tree.text + "\n")
        #expect(try JSONValue(parsing: tree.text) == tree)
    }

    /// Rotated and compressed by us, read by cpppo's reader from the first file to the last.
    @Test(arguments: [Compression.gzip, .bzip2, .xz])
    func cpppoReadsOurRotatedFiles(compression: Compression) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/plant.hst"
        let writer = try HistoryWriter(path: path, rotation: .init(maxBytes: 8_000, keep: 50, compression: compression))
        var written: [String] = []
        for index in 0..<1_000 {
            let time = Timestamp(1400000000.0 + Double(index) * 0.5)
            let data = JSONValue.object([("40001", .int(Int64(index))), ("40002", .double(Double(index) / 4))])
            try writer.write(data, serial: .int(Int64(index)), at: time)
            written.append(time.render() + "\t" + data.text)
        }
        try writer.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names.contains("plant.hst.0") && names.contains("plant.hst.1" + compression.suffix) && names.count >= 7, "\(names)")
        #expect(!names.contains { $0.hasPrefix(".") || $0 == "plant.hst.1" }, "\(names)")
        let script = """
            import sys
            from cpppo.history import reader, HistoryExhausted, timestamp
            r = reader(sys.argv[1], historical=timestamp(1400000000.0), basis=timestamp(), factor=1e9)
            last, after = timestamp(1400000000.0), False
            while True:
                try:
                    for (f, n, cur), (ts, js) in r.open(target=last, after=after, strict=after):
                        if js is not None:
                            print(str(ts) + "\\t" + js.strip())
                            last = ts
                except HistoryExhausted:
                    break
                after = True
            """
        let output = try Peers.run(try Peers.cpppoPython(), ["-W", "ignore", "-c", script, path])
        #expect(output.status == 0, "\(output.stderr)")
        let read = output.text.split(separator: "\n").map(String.init)
        #expect(read == written, "cpppo read \(read.count) of \(written.count)")
        let ours = try HistoryFiles(path: path)
        #expect(ours.records().map { $0.time.render() + "\t" + $0.data } == written)
    }

    /// Written by cpppo's logger, rotated and compressed by gzip, bzip2 and xz, read by us in order.
    @Test func weReadCpppoFilesCompressedEachWay() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/cpppo.hst"
        let script = """
            import sys, subprocess
            from cpppo.history import logger
            path = sys.argv[1]
            for part, suffix in enumerate([".2", ".1", ".0", ""]):
                log = logger(path + suffix)
                for index in range(part * 100, part * 100 + 100):
                    log.write({"40001": index, "SCADA": [index, index / 8.0]}, now=1500000000.0 + index * 0.001, serial=index)
                log.close()
            subprocess.check_call(["xz", path + ".2"])
            subprocess.check_call(["bzip2", path + ".1"])
            subprocess.check_call(["gzip", path + ".0"])
            with open(path, "ab") as f:
                f.write(b"2017-07-14 02:40:01.000\\t400\\t{\\"40001\\": 4")
            """
        let output = try Peers.run(try Peers.cpppoPython(), ["-W", "ignore", "-c", script, path])
        #expect(output.status == 0, "\(output.stderr)")
        let files = try HistoryFiles(path: path)
        #expect(files.files.map { ($0.path as NSString).lastPathComponent } == ["cpppo.hst.2.xz", "cpppo.hst.1.bz2", "cpppo.hst.0.gz", "cpppo.hst"])
        let records = files.records()
        let all = Array(records)
        #expect(all.count == 400)
        for (index, record) in all.enumerated() {
            #expect(record.serial == "\(index)")
            #expect(try record.dataValue == .object([("40001", .int(Int64(index))), ("SCADA", .array([.int(Int64(index)), .double(Double(index) / 8)]))]))
            #expect(record.time.render(digits: 3) == Timestamp(1500000000.0 + Double(index) * 0.001).render(digits: 3))
        }
        #expect(records.problems.count == 1)
        #expect(records.problems.first?.description.contains("cpppo.hst:101: truncated last line") == true, "\(records.problems)")
        let middle = Array(files.records(from: Timestamp(1500000000.150), to: Timestamp(1500000000.250)))
        #expect(middle.map(\.serial) == (150...250).map { "\($0)" })
    }

    @Test func rotatesByAgeAndKeepsOnlySoMany() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/aged.hst"
        let writer = try HistoryWriter(path: path, rotation: .init(maxAge: 60, keep: 3, compression: .xz))
        for minute in 0..<10 {
            for second in stride(from: 0, to: 60, by: 20) {
                try writer.write(.int(Int64(minute * 60 + second)), at: Timestamp(1600000000.0 + Double(minute * 60 + second)))
            }
        }
        try writer.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["aged.hst", "aged.hst.0", "aged.hst.1.xz", "aged.hst.2.xz"])
        let records = Array(try HistoryFiles(path: path).records())
        #expect(records.map(\.data) == (6..<10).flatMap { minute in [0, 20, 40].map { "\(minute * 60 + $0)" } })
    }

    /// A rotation that fails (here: name.hst.0 is a directory) loses no record:
    /// each goes into the live file, and rotation happens once it can.
    @Test func aFailedRotationLosesNothingAndIsTriedAgain() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/stuck.hst"
        try FileManager.default.createDirectory(atPath: path + ".0/in-the-way", withIntermediateDirectories: true)
        let writer = try HistoryWriter(path: path, rotation: .init(maxBytes: 200, keep: 1, compression: .none))
        for index in 0..<20 { try writer.write(.int(Int64(index)), at: Timestamp(1_600_000_000 + Double(index))) }
        #expect(Array(try HistoryFiles(path: path).records()).count == 20, "all in the live file while rotation fails")
        try FileManager.default.removeItem(atPath: path + ".0")
        for index in 20..<40 { try writer.write(.int(Int64(index)), at: Timestamp(1_600_000_000 + Double(index))) }
        try writer.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["stuck.hst", "stuck.hst.0"], "\(names)")
        let records = Array(try HistoryFiles(path: path).records())
        // Rotating again (keep = 1: one rotated file, the live one).
        #expect(records.map(\.data).suffix(3) == ["37", "38", "39"], "\(records.map(\.data))")
        #expect(records.map(\.data) == records.map(\.data).sorted { Int($0)! < Int($1)! }, "in order")
    }

    /// Line buffering hands each record to the kernel before `write` returns:
    /// another reader of the file sees it with the writer still open.
    @Test func eachLineIsInTheFileWhenWriteReturns() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/live.hst"
        let writer = try HistoryWriter(path: path, sync: .everyWrite)
        for index in 0..<50 {
            try writer.write(.int(Int64(index)), serial: .int(Int64(index)))
            let records = Array(try HistoryFiles(path: path).records())
            #expect(records.count == index + 1 && records.last?.data == "\(index)")
        }
        let buffered = try HistoryWriter(path: directory + "/block.hst", buffering: .block(bytes: 1 << 20))
        try buffered.write(.int(1))
        #expect(try String(contentsOfFile: directory + "/block.hst", encoding: .utf8).isEmpty)
        try buffered.flush()
        #expect(try String(contentsOfFile: directory + "/block.hst", encoding: .utf8).hasSuffix("\tnull\t1\n"))
        try writer.close()
        #expect(throws: HistoryError.self) { try writer.write(.null) }
    }

    @Test func garbageLinesAreSkippedAndNamed() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bad.hst"
        let text = "# header\n2014-01-01 00:00:00.000\t1\t{}\nnot a record\n2014-13-01 00:00:00\t2\t{}\n  2014-01-01 00:00:01.500\tnull\t[1]\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let records = try HistoryFiles(path: path).records()
        #expect(Array(records).map(\.data) == ["{}", "[1]"])
        #expect(records.problems.map(\.line) == [3, 4], "\(records.problems)")
        #expect(records.problems.first?.description.contains("bad.hst:3: not TIMESTAMP<TAB>SERIAL<TAB>DATA") == true)
    }
}

/// `fieldgw history`, as the README shows it.
@Suite(.ownThreads) struct HistoryCommandTests {
    @Test func printsARotatedSetInAZoneAndNamesWhatItSkipped() throws {
        let directory = try Peers.scratchDirectory("history").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/plant.hst"
        let writer = try HistoryWriter(path: path, rotation: .init(maxBytes: 200, keep: 10, compression: .bzip2))
        for index in 0..<12 {
            try writer.write(.object([("40001", .int(Int64(index)))]), serial: .int(Int64(index)), at: Timestamp(1396310400.0 + Double(index) * 600))
        }
        try writer.close()
        try FileHandle(forWritingTo: URL(fileURLWithPath: path)).then { $0.seekToEndOfFile(); $0.write(Data("2014-04-01 02:0".utf8)); $0.closeFile() }
        let output = try Peers.run(try Peers.fieldgw(), ["history", path, "--from", "2014-03-31 18:20:00 MDT", "--to", "2014-03-31 19:00:00 MDT",
                                                         "--region", "CA", "--zone", "America/Edmonton"])
        #expect(output.status == 0, "\(output.stderr)")
        // Record 0 is at 2014-04-01 00:00 UTC, 2014-03-31 18:00 MDT; one every ten minutes.
        let expected = (2...6).map { "2014-03-31 \(18 + $0 / 6):\($0 % 6)0:00.000 MDT\t\($0)\t{\"40001\": \($0)}" }
        let lines = output.text.split(separator: "\n").map(String.init)
        #expect(lines == expected, "\(lines)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).contains("plant.hst.1.bz2"))
        let all = try Peers.run(try Peers.fieldgw(), ["history", path])
        #expect(all.status == 0 && all.text.split(separator: "\n").count == 12, "\(all.text)")
        #expect(all.stderr.contains("skipped \(path):") && all.stderr.contains("truncated last line"), "\(all.stderr)")
    }
}

extension FileHandle {
    fileprivate func then(_ body: (FileHandle) throws -> Void) rethrows { try body(self) }
}
