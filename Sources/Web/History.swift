import Foundation
import Gateway

/// Each line's load and transaction rate over the last hour, one sample
/// every ten seconds, for the dashboard's chart.
final class History: Sendable {
    static let interval = Duration.seconds(10)
    static let samples = 360

    struct Sample: Codable, Sendable, Hashable {
        /// Seconds since 1970.
        var time: Double
        /// Fraction of the time the line was busy.
        var utilisation: Double
        /// Transactions per second since the sample before.
        var rate: Double
    }

    private let state = Guarded<(lines: [String: [Sample]], last: [String: (transactions: Int, at: Double)], count: Int)>(([:], [:], 0))

    func record(_ status: GatewayStatus, at time: Double = Date().timeIntervalSince1970) {
        state.withLock { state in
            for line in status.lines {
                let before = state.last[line.name]
                let rate = before.map { Double(max(0, line.transactions - $0.transactions)) / max(0.001, time - $0.at) } ?? 0
                state.last[line.name] = (line.transactions, time)
                var samples = state.lines[line.name] ?? []
                samples.append(Sample(time: time, utilisation: line.utilisation, rate: rate))
                state.lines[line.name] = Array(samples.suffix(Self.samples))
            }
            state.count += 1
        }
    }

    var lines: [String: [Sample]] { state.withLock { $0.lines } }
    /// How many rounds were sampled: the dashboard asks for the history again when it grows.
    var count: Int { state.withLock { $0.count } }
}
