import EtherNetIP
import Foundation
import NIOPosix
import Synchronization
import TestSupport
import Testing

/// A hook that keeps a plain, unguarded counter: right only if the server
/// calls it for one request at a time, as `TagHook` promises.
private final class CountingHook: TagHook, @unchecked Sendable {
    var calls = 0  // deliberately not atomic
    let overlaps = Atomic<Int>(0)
    private let inside = Atomic<Bool>(false)

    private func enter() {
        if inside.exchange(true, ordering: .acquiring) { overlaps.add(1, ordering: .relaxed) }
        let seen = calls
        usleep(20)  // widen the window another request would have to come in
        calls = seen + 1
        inside.store(false, ordering: .releasing)
    }

    func willRead(_ tag: EtherNetIP.Tag, elements: Range<Int>) throws(CIPStatus) {
        enter()
        tag.set([Double(calls)])
    }

    func didWrite(_ tag: EtherNetIP.Tag, elements: Range<Int>, bytes: [UInt8]) { enter() }
}

private struct Refusing: TagHook {
    func willRead(_ tag: EtherNetIP.Tag, elements: Range<Int>) throws(CIPStatus) { throw CIPStatus(0x0C) }
}

@Suite(.ownThreads) struct TagHookTests {
    @Test func aTagsHookIsCalledForOneRequestAtATime() async throws {
        let hook = CountingHook()
        var tags = TagTable()
        try tags.add(definition: "Count=DINT", hook: hook)
        try tags.add(definition: "Broken=INT", hook: Refusing())
        let server = try await ENIPServer.start(host: "127.0.0.1", port: 0, router: MessageRouter(tags: tags), group: MultiThreadedEventLoopGroup.singleton)
        let port = server.port
        defer { Task { try? await server.close() } }
        let fieldgw = try Peers.fieldgw()
        let results = try await offPool {
            let clients = (0..<4).map { _ in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: fieldgw)
                process.arguments = ["enip-client", "-a", "127.0.0.1:\(port)", "Count", "Count=(DINT)1", "--repeat", "150", "--depth", "4", "--quiet"]
                process.standardOutput = FileHandle.nullDevice
                return process
            }
            for client in clients { try client.run() }
            return clients.map { $0.waitUntilExit(); return $0.terminationStatus }
        }
        #expect(results == [0, 0, 0, 0])
        #expect(hook.overlaps.load(ordering: .relaxed) == 0)
        #expect(hook.calls == 4 * 150 * 2, "every read and every write, none lost to a race")
        let broken = try await offPool { try Peers.run(fieldgw, ["enip-client", "-a", "127.0.0.1:\(port)", "Broken"]) }
        #expect(broken.text.contains("Broken") && broken.text.lowercased().contains("0x0c"), "\(broken.text) \(broken.stderr)")
    }
}
