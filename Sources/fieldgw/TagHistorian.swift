import EtherNetIP
import History
import Logging
import Synchronization

/// `enip-server --historize`: every tag read and write recorded as cpppo's
/// `historize` example records them: serial `["NAME", [FIRST, LAST]]` (the
/// elements), data `{"read": [values]}` or `{"write": [values]}`.
final class TagHistorian: TagHook {
    let writer: HistoryWriter
    private let logger: Logger
    private let failing = Atomic<Bool>(false)

    init(writer: HistoryWriter, logger: Logger) {
        self.writer = writer
        self.logger = logger
    }

    /// cpppo's first line for each tag.
    func started(_ tags: [Tag]) {
        for tag in tags { attempt { try writer.comment("\(Timestamp.now()): Started recording Tag: \(tag.name)") } }
    }

    func didRead(_ tag: Tag, elements: Range<Int>, bytes: [UInt8]) { record("read", tag, elements, bytes) }

    func didWrite(_ tag: Tag, elements: Range<Int>, bytes: [UInt8]) { record("write", tag, elements, bytes) }

    private func record(_ kind: String, _ tag: Tag, _ elements: Range<Int>, _ bytes: [UInt8]) {
        let serial = JSONValue.array([.string(tag.name), .array([.int(Int64(elements.lowerBound)), .int(Int64(elements.upperBound - 1))])])
        attempt {
            try writer.write(serial: serial) { json in
                json.object { json in
                    json.key(kind)
                    json.array { json in TagHistorian.values(tag, bytes, into: &json) }
                }
            }
        }
    }

    /// Numbers for an atomic tag (whole ones as integers), bytes for a structure.
    static func values(_ tag: Tag, _ bytes: [UInt8], into json: inout JSONWriter) {
        guard case .atomic(let type) = tag.type else {
            for byte in bytes { json.value(Int64(byte)) }
            return
        }
        for number in type.numbers(bytes[...]) {
            if type.isInteger, let whole = Int64(exactly: number) { json.value(whole) } else { json.value(number) }
        }
    }

    /// A failing history file must not fail the client's request: logged once, retried each time.
    private func attempt(_ body: () throws -> Void) {
        do {
            try body()
            if failing.exchange(false, ordering: .relaxed) { logger.notice("history writing resumed", metadata: ["path": "\(writer.path)"]) }
        } catch {
            if !failing.exchange(true, ordering: .relaxed) {
                logger.error("history writing failed", metadata: ["path": "\(writer.path)", "error": "\(error)"])
            }
        }
    }
}
