import Foundation
import Synchronization
import Testing
import Threads
import TestSupport

@Suite(.ownThreads) struct WorkerThreadTests {
    @Test func joinWaitsForTheBodyAndTheThreadIsNamed() throws {
        let seen = Mutex<(ran: Bool, name: String, other: Bool)>((false, "", false))
        let caller = pthread_self()
        let thread = WorkerThread(name: "a name longer than fifteen bytes") {
            usleep(50_000)
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            seen.withLock { $0 = (true, comm.trimmingCharacters(in: .newlines), pthread_equal(pthread_self(), caller) == 0) }
        }
        thread.join()
        let result = seen.withLock { $0 }
        #expect(result.ran)
        // The kernel keeps 15 bytes of a thread's name.
        #expect(result.name == "a name longer t")
        #expect(result.other)
        thread.join()   // a second join returns at once
    }

    @Test func aDetachedThreadRunsToItsEnd() async throws {
        let done = Mutex(false)
        WorkerThread.detach(name: "detached") { done.withLock { $0 = true } }
        let deadline = ContinuousClock.now + .seconds(10)
        while !done.withLock({ $0 }) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(done.withLock { $0 })
    }

    @Test func aThreadJoiningItselfDoesNotHang() {
        let slot = Mutex<WorkerThread?>(nil)
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let thread = WorkerThread(name: "self join") {
            started.wait()
            slot.withLock { $0 }?.join()
            finished.signal()
        }
        slot.withLock { $0 = thread }
        started.signal()
        #expect(finished.wait(timeout: .now() + 10) == .success)
        thread.join()
    }
}
