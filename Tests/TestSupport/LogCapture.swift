import Logging
import Synchronization

/// Keeps what a logger logs, for tests that check events are logged.
public final class LogCapture: Sendable {
    public struct Record: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: Logger.Metadata
    }

    private let kept = Mutex<[Record]>([])

    public init() {}

    public var records: [Record] { kept.withLock { $0 } }

    /// A logger whose records this capture keeps (every level).
    public func logger(label: String) -> Logger {
        Logger(label: label) { _ in Handler(capture: self) }
    }

    fileprivate func keep(_ record: Record) { kept.withLock { $0.append(record) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.keep(Record(level: event.level, message: "\(event.message)", metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }
}
