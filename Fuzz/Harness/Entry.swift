import Foundation

// The fuzz harness has two faces. Built with `-sanitize=fuzzer,address
// -DFUZZING` (`make fuzz`), libFuzzer's own main drives
// LLVMFuzzerTestOneInput for the target named by FIELDGW_FUZZ_TARGET.
// Built plainly (with the tests), it replays files through a target, so a
// crash file can be run under the debugger without the sanitizers.

/// Looked up once: libFuzzer calls the entry point millions of times.
nonisolated(unsafe) private var chosen: FuzzTarget?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if chosen == nil { chosen = FuzzTarget.fromEnvironment() }
    chosen!.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

extension FuzzTarget {
    static func fromEnvironment() -> FuzzTarget {
        let name = ProcessInfo.processInfo.environment["FIELDGW_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: " ")
            FileHandle.standardError.write(Data("FIELDGW_FUZZ_TARGET must be one of: \(names)\n".utf8))
            exit(2)
        }
        return target
    }
}

#if !FUZZING
/// `fieldgw-fuzz TARGET FILE|DIR...`: each file once through TARGET; `fieldgw-fuzz --list`: the targets.
@main struct Replay {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--list" { return print(FuzzTarget.allCases.map(\.rawValue).joined(separator: "\n")) }
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: fieldgw-fuzz TARGET FILE|DIR... (targets: fieldgw-fuzz --list)")
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            for file in try files(at: path) {
                target.run(Array(try Data(contentsOf: URL(fileURLWithPath: file))))
                count += 1
            }
        }
        print("\(name): \(count) inputs, no crash")
    }

    static func files(at path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        return try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" }
    }
}
#endif
