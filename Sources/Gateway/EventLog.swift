import Foundation
import Logging
import Synchronization

/// The gateway's recent events, for `/api/events` and the dashboard: every
/// log message that carries an `event` metadata key (a slave offline or
/// online, a breaker opening or closing, a line down or up, a reload). The
/// last `capacity` are kept.
public final class EventLog: Sendable {
    /// One event, as `/api/events` serves it.
    public struct Event: Codable, Sendable, Hashable {
        /// Seconds since 1970.
        public var time: Double
        /// What happened, from the `event` metadata: slave-offline, breaker-open,
        /// line-down, …
        public var event: String
        /// The log level it was logged at.
        public var level: String
        /// The log message.
        public var message: String
        /// The line it concerns, if any.
        public var line: String?
        /// The slave it concerns, if any.
        public var slave: Int?
    }

    /// How many events are kept; older ones are dropped.
    public let capacity: Int
    private let state = Mutex<(events: [Event], next: Int, total: Int)>(([], 0, 0))

    /// An empty log that keeps the last `capacity` events (at least one).
    public init(capacity: Int = 500) { self.capacity = max(1, capacity) }

    /// Keeps `event`, dropping the oldest when the log is full.
    public func record(_ event: Event) {
        state.withLock { state in
            if state.events.count < capacity {
                state.events.append(event)
            } else {
                state.events[state.next] = event
            }
            state.next = (state.next + 1) % capacity
            state.total += 1
        }
    }

    /// Oldest first.
    public var recent: [Event] {
        state.withLock { state in
            state.events.count < capacity ? state.events : Array(state.events[state.next...] + state.events[..<state.next])
        }
    }

    /// How many were ever recorded (the dashboard asks again when it grows).
    public var total: Int { state.withLock { $0.total } }
}

/// A log handler that passes everything to `base` and records the messages
/// that carry an `event` metadata key in `events`.
struct EventTap: LogHandler {
    var base: any LogHandler
    let events: EventLog

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        base.log(event: event)
        guard let kind = event.metadata?["event"] ?? metadata["event"] else { return }
        let slave = event.metadata?["slave"].flatMap { Int("\($0)") }
        events.record(EventLog.Event(time: Date().timeIntervalSince1970, event: "\(kind)", level: "\(event.level)",
                                     message: "\(event.message)", line: event.metadata?["line"].map { "\($0)" }, slave: slave))
    }
}
