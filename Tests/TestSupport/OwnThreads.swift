import Foundation
import Testing

/// Swift's cooperative pool has one thread per core (two on the CI machine)
/// and does not grow when one blocks. A test that waits on a peer, a socket
/// or a sleep holds one of them, and with two such tests every other test
/// of the process stopped, for up to 114 s in fresh-clone CI runs, until
/// tests with timeouts failed. `@Suite(.ownThreads)` runs a suite's tests
/// (their bodies, and the tasks they start without `Task.detached`) on
/// `SpreadExecutor`, whose threads grow as jobs block.
///
/// How many tests run at once is `SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH`
/// (the Makefile sets it), not the pool's width.
public struct OwnThreads: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(SpreadExecutor.shared) { try await function() }
    }
}

extension Trait where Self == OwnThreads {
    /// The suite's tests run on threads that grow as they block (`OwnThreads`).
    public static var ownThreads: Self { OwnThreads() }
}

/// Runs each job on an idle thread of its own, or on a new one when none is
/// idle: a job that blocks never holds another back. A thread idle for 10 s ends.
/// Its threads block signals, as the cooperative pool's do.
public final class SpreadExecutor: TaskExecutor, @unchecked Sendable {
    public static let shared = SpreadExecutor()

    /// Guards `jobs` and `idle`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var idle = 0

    public func enqueue(_ job: consuming ExecutorJob) {
        condition.lock()
        jobs.append(UnownedJob(job))
        if idle >= jobs.count { condition.signal() } else { spawn() }
        condition.unlock()
    }

    private func spawn() {
        let thread = Thread { [self] in work() }
        thread.start()
    }

    private func work() {
        // Signals blocked, as on dispatch's threads: signals meant for the
        // process still go to the thread dispatch keeps for them, and threads
        // and children a test starts from here get the mask the tests (and
        // PeerProcess.stop's SIGKILL fallback) were written for.
        var all = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, nil)
        let executor = asUnownedTaskExecutor()
        condition.lock()
        while true {
            while jobs.isEmpty {
                idle += 1
                let woken = condition.wait(until: Date().addingTimeInterval(10))
                idle -= 1
                if !woken && jobs.isEmpty { return condition.unlock() }
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: executor)
            condition.lock()
        }
    }
}
