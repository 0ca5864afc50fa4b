import Foundation
import History

// The historian's throughput, for Benchmarks/history_bench.py, which runs
// cpppo's logger and reader on the same records and prints the ratios.
//   history-bench write PATH COUNT line|block [tree]   records written per second
//     (JSON written as it goes, or with "tree" built as JSONValue first)
//   history-bench read PATH                     records read per second (the whole rotated set)

func seconds(_ body: () throws -> Int) rethrows -> (Int, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let count = try body()
    return (count, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

// The records cpppo's side writes: {"40001": i, "40002": [i, i+1, i+2]} with serial i.
func write(path: String, count: Int, buffering: HistoryWriter.Buffering, tree: Bool) throws -> (Int, Double) {
    unlink(path)
    return try seconds {
        let writer = try HistoryWriter(path: path, buffering: buffering)
        for index in 0..<count {
            let value = Int64(index), time = Timestamp(1400000000.0 + Double(index) * 0.01)
            if tree {
                let data = JSONValue.object([("40001", .int(value)), ("40002", .array([.int(value), .int(value + 1), .int(value + 2)]))])
                try writer.write(data, serial: .int(value), at: time)
                continue
            }
            try writer.write(serial: .int(value), at: time) { json in
                json.object { json in
                    json.key("40001"); json.value(value)
                    json.key("40002"); json.array { json in json.value(value); json.value(value + 1); json.value(value + 2) }
                }
            }
        }
        try writer.close()
        return count
    }
}

func read(path: String) throws -> (Int, Double) {
    try seconds {
        var count = 0
        let records = try HistoryFiles(path: path).records()
        for record in records where !record.data.isEmpty { count += 1 }
        guard records.problems.isEmpty else { throw HistoryError("\(records.problems)") }
        return count
    }
}

let arguments = CommandLine.arguments
do {
    let result: (Int, Double)
    switch (arguments.count, arguments.count > 1 ? arguments[1] : "") {
    case (5...6, "write"):
        result = try write(path: arguments[2], count: Int(arguments[3]) ?? 0, buffering: arguments[4] == "line" ? .line : .block(bytes: 1 << 16),
                           tree: arguments.count == 6 && arguments[5] == "tree")
    case (3, "read"): result = try read(path: arguments[2])
    default:
        FileHandle.standardError.write(Data("usage: history-bench write PATH COUNT line|block [tree] | read PATH\n".utf8))
        exit(2)
    }
    print("\(result.0) \(result.1)")
} catch {
    FileHandle.standardError.write(Data("history-bench: \(error)\n".utf8))
    exit(1)
}
