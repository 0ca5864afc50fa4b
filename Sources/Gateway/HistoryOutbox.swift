import CoreMetrics
import Dispatch
import Logging
import Synchronization
import Threads

/// The records the historian has made and not yet written, and the thread
/// that writes them. Records are made on the pollers' event loops and the
/// lines' hand-over loop, which the EtherNet/IP tags, assemblies and MQTT
/// share: a disk that stalls (an SD card's fsync, a hung network mount)
/// holds this thread, never those loops.
///
/// At most `limit` records wait: past it a new record is dropped, counted
/// (`fieldgw_history_records_dropped_total`) and logged, rather than the
/// gateway's memory growing while a disk is stuck.
final class HistoryOutbox: Sendable {
    private struct State {
        var queued: [@Sendable () -> Void] = []
        var finishing = false
        /// Records dropped since the start, and whether records are being dropped now.
        var dropped = 0
        var behind = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let limit: Int
    private let logger: Logger
    private let droppedCounter: Counter
    private let thread = Mutex<WorkerThread?>(nil)

    init(limit: Int = 10_000, logger: Logger, metrics: any MetricsFactory) {
        self.limit = limit
        self.logger = logger
        droppedCounter = Counter(label: "fieldgw_history_records_dropped_total", factory: metrics)
        thread.withLock { $0 = WorkerThread(name: "history") { [self] in run() } }
    }

    /// Hands `write` to the history thread; false if it was dropped (too many waiting, or finishing).
    @discardableResult
    func send(_ write: @escaping @Sendable () -> Void) -> Bool {
        let (taken, wakeUp, fellBehind) = state.withLock { state -> (Bool, Bool, Bool) in
            guard !state.finishing, state.queued.count < limit else {
                state.dropped += 1
                defer { state.behind = true }
                return (false, false, !state.behind)
            }
            state.queued.append(write)
            return (true, state.queued.count == 1, false)
        }
        if wakeUp { wake.signal() }
        if !taken { droppedCounter.increment() }
        if fellBehind { logger.error("history falls behind: the disk takes records slower than they come, and records are dropped") }
        return taken
    }

    /// Records dropped so far.
    var dropped: Int { state.withLock { $0.dropped } }

    /// Writes what is waiting, then ends the thread.
    func finish() {
        state.withLock { $0.finishing = true }
        wake.signal()
        thread.withLock { $0 }?.join()
    }

    private func run() {
        while true {
            wake.wait()
            let (batch, finishing) = state.withLock { state in
                defer { state.queued.removeAll(keepingCapacity: true) }
                return (state.queued, state.finishing)
            }
            for write in batch { write() }
            let caughtUp = state.withLock { state -> Int? in
                guard state.behind, state.queued.count < limit / 2 else { return nil }
                state.behind = false
                return state.dropped
            }
            if let caughtUp { logger.notice("history writing caught up", metadata: ["dropped_since_start": "\(caughtUp)"]) }
            if finishing { return }
        }
    }
}
