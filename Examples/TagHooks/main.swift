// An EtherNet/IP server whose tags are computed as they are read: the
// machine's load average and clock, with no network needed (cpppo's
// weather example fetched the weather; this one reads /proc). A write to
// Setpoint is printed. Run it, then read it with any Logix client:
//
//     swift run tag-hooks-example 127.0.0.1:44818
//     python -c 'from pylogix import PLC; p = PLC("127.0.0.1"); print(p.Read("LoadAverage[0]", 3).Value)'
import EtherNetIP
import Foundation
import NIOPosix

/// LoadAverage=REAL[3]: the 1, 5 and 15 minute load averages, read from /proc/loadavg on each read.
struct LoadAverage: TagHook {
    func willRead(_ tag: Tag, elements: Range<Int>) throws(CIPStatus) {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { throw CIPStatus(0x0C) }  // object state conflict
        tag.set(text.split(separator: " ").prefix(3).compactMap { Double($0) })
    }
}

/// Clock=DINT[7]: UTC year, month, day, hour, minute, second and microsecond, on each read.
struct Clock: TagHook {
    func willRead(_ tag: Tag, elements: Range<Int>) throws(CIPStatus) {
        let now = Date()
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: now)
        tag.set([parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!, parts.nanosecond! / 1000].map(Double.init))
    }
}

/// Setpoint=REAL: each value written is printed.
struct Setpoint: TagHook {
    func didWrite(_ tag: Tag, elements: Range<Int>, bytes: [UInt8]) {
        say("Setpoint <= \(tag.values(from: elements.lowerBound, count: elements.count))")
    }
}

/// A line on standard output at once (not held in stdio's buffer when piped).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

let address = CommandLine.arguments.dropFirst().first ?? "127.0.0.1:44818"
let parts = address.split(separator: ":", omittingEmptySubsequences: false)
guard parts.count == 2, let port = Int(parts[1]) else {
    FileHandle.standardError.write(Data("usage: tag-hooks-example HOST:PORT (port 0 picks one)\n".utf8))
    exit(2)
}
var tags = TagTable()
try tags.add(definition: "LoadAverage=REAL[3]", readOnly: true, hook: LoadAverage())
try tags.add(definition: "Clock=DINT[7]", readOnly: true, hook: Clock())
try tags.add(definition: "Setpoint=REAL", hook: Setpoint())
let server = try await ENIPServer.start(host: String(parts[0]), port: port, router: MessageRouter(tags: tags),
                                        group: MultiThreadedEventLoopGroup.singleton)
say("tag-hooks-example: EtherNet/IP on \(parts[0]):\(server.port)")
try await server.onClose.get()
