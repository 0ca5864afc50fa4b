// The Swift side of Benchmarks/modbus_bench.py's framer benchmark: runs a
// slave's RTUFramer over a noisy byte stream, in reads of a given size, and
// prints one JSON object: throughput, and how many of the frames put into the
// stream came out (in order), and how many came out that were not put in.
import Foundation
import Modbus

func report(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// The frames the driver put into the stream, in order.
func expectedFrames(bytes: [UInt8], lengths: [UInt8]) -> [ArraySlice<UInt8>] {
    var frames: [ArraySlice<UInt8>] = []
    var at = 0
    for length in lengths {
        frames.append(bytes[at..<(at + Int(length))])
        at += Int(length)
    }
    return frames
}

func framerBench(stream: [UInt8], expected: [ArraySlice<UInt8>], read: Int, rounds: Int) {
    var best = Double.infinity
    var recovered = 0, extra = 0
    var counters: RTUFramer.Counters?
    for _ in 0..<rounds {
        var framer = RTUFramer(servingUnits: [1, 2, 3])
        var next = 0, strangers = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var at = 0
        while at < stream.count {
            let end = min(at + read, stream.count)
            for frame in framer.receive(stream[at..<end]) {
                if next < expected.count && frame[...] == expected[next] { next += 1 } else { strangers += 1 }
            }
            at = end
        }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        recovered = next
        extra = strangers
        counters = framer.counters
    }
    report(["bench": "framer", "bytes": stream.count, "seconds": best, "frames": expected.count, "recovered": recovered,
            "extra": extra, "crc_errors": counters?.crcErrors ?? 0, "noise_bytes": counters?.noiseBytes ?? 0])
}

let arguments = CommandLine.arguments
guard arguments.count == 6, arguments[1] == "framer", let read = Int(arguments[5]) else {
    FileHandle.standardError.write(Data("usage: modbus-bench framer STREAM FRAMES LENGTHS READ_SIZE\n".utf8))
    exit(2)
}
let stream = [UInt8](try Data(contentsOf: URL(fileURLWithPath: arguments[2])))
let frames = [UInt8](try Data(contentsOf: URL(fileURLWithPath: arguments[3])))
let lengths = [UInt8](try Data(contentsOf: URL(fileURLWithPath: arguments[4])))
framerBench(stream: stream, expected: expectedFrames(bytes: frames, lengths: lengths), read: read, rounds: 3)
